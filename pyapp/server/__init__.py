"""The host's web server: a thread-pooled HTTP server that stays up whatever clients send (httpd), and
the files the page needs: Pyodide, micropip, the page's wheels, our own wheel (assets)."""
