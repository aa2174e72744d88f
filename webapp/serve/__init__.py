"""Frame -> letter: the live namespace, the served model behind one batching worker, the
stream decoder, word suggestions, the pages, and the server that runs them.
"""
