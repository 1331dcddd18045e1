"""`fooling train lenet-mnist`: train Caffe's LeNet on the real MNIST."""

from __future__ import annotations

import argparse

from fooling.training.train_lenet import DEFAULT_EPOCHS, train_lenet


def run(args: argparse.Namespace) -> int:
    """Train, save the weights to `--out`, and print the test accuracy; returns the exit code."""
    accuracy = train_lenet(
        args.out,
        epochs=args.epochs or DEFAULT_EPOCHS,
        seed=args.seed,
        mnist_root=args.mnist,
        progress=not args.quiet,
    )
    print(f"test accuracy {accuracy:.4f}; weights: {args.out}")
    print(f"use them with: fooling evolve --classifier lenet-mnist --weights {args.out} ...")
    return 0
