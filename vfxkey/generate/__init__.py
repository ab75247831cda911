"""Generation with Stable Diffusion through diffusers, from local files only.

Importing this package sets, before diffusers or transformers load, what they read from
the environment when imported: ``HF_HUB_OFFLINE=1`` (never reach the Hugging Face hub) and
``TRANSFORMERS_VERBOSITY=error`` (no notices about optional back-ends vfxkey does not use,
such as torchvision). A value the user has set is kept.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
