"""Generation with Stable Diffusion through diffusers, from local files only.

Importing this package changes no process state (no environment variables, no logger
levels): it may run inside a host application such as Nuke. Every model load passes
``local_files_only=True``, so the Hugging Face hub is never reached. The ``vfxkey``
command line additionally sets ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_VERBOSITY=error``
for its own process (see ``vfxkey/cli/__init__.py``).
"""
