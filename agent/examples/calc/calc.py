"""A tiny calculator with a bug for loopwright's demo."""


def add(a, b):
    return a - b


def mean(values):
    if not values:
        raise ValueError("mean of no values")
    return add(sum(values), 0) / len(values)
