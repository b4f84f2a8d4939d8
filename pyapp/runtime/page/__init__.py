"""The page: fetching, a GGUF read from a Blob, the models kept in the browser, a bundle's safetensors, which model runs, the
DOM, the chat session, and the app that wires them to the page's events."""
