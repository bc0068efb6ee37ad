"""The pack layer: run a month-end pack (``pack.runner``), write/read results (``pack.results``),
render HTML (``pack.html``) and publish atomically (``pack.publish``). Submodules are imported on use
so that notebooks reading results stay quick to start."""
