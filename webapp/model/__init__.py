"""How a model is fed (its spec), built (the networks) and stored (the registry): what
training writes and serving reads.
"""
