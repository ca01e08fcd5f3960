"""Server-rendered HTML for the web pages: an escaping builder and the page layouts."""
