"""Bytes on disk and over the wire: atomic files, video I/O, the content cache, status tables, HTTP downloads."""
