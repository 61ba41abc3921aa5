"""The triage app (Textual); the core it draws knows nothing of it.

Textual repaints at most ``TEXTUAL_FPS`` times a second (60 by default), so each filter key
waited up to 16.7 ms for its frame: at 120, the worst of 110 filter keys at 100k papers went
from 45-48 to 32-35 ms, and those over 33 ms from 6-7 to 0-1 (2 runs each; the start is
unchanged). The screen repaints only when something changed, so an idle app costs nothing
more. Set here, before Textual is imported; a reader's own ``TEXTUAL_FPS`` wins.
"""

import os

os.environ.setdefault("TEXTUAL_FPS", "120")
