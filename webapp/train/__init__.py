"""Data -> model: the data sets (Sign MNIST CSVs, photo folders, hand-free negatives),
training, fusing the hand-shape branch, evaluation, and the photos' hand boxes.
"""
