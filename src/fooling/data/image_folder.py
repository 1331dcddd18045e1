"""Labelled images from a folder: one sub-folder per class, named by the classifier's labels.

A sub-folder is matched to a class by its name: the class's label (`hen`), its
index (`8`), or both as `fooling` names its images (`008_hen`). Classes with no
sub-folder simply have no images; a sub-folder that matches no class is refused,
so a typo never drops a class silently. Every image is read with Pillow (PNG,
JPEG, ...; hidden files are skipped) and resized as the classifier resizes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import torch

from fooling.classifiers import Classifier
from fooling.errors import FoolingError
from fooling.records import to_bytes
from fooling.runs.images import image_filename
from fooling.user_files import read_image

MAX_FOLDER_IMAGES = 200_000


@dataclass(frozen=True)
class LabelledImages:
    """Images with their classes.

    Attributes:
        images: `uint8 [N, C, H, W]` at the classifier's input size.
        labels: `long [N]` class indices into the classifier's outputs.
    """

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def classes(self) -> list[int]:
        """The classes that have images, in order."""
        return sorted(set(self.labels.tolist()))

    def split(self, share: float, seed: int) -> tuple[LabelledImages, LabelledImages]:
        """`(kept, held out)`: about `share` of each class's images held out, at least one.

        Raises:
            FoolingError: a class with fewer than two images.
        """
        generator = torch.Generator().manual_seed(seed)
        kept, held = [], []
        for value in self.classes:
            members = (self.labels == value).nonzero().flatten()
            if len(members) < 2:
                raise FoolingError(f"class {value} has {len(members)} image; it needs two or more")
            members = members[torch.randperm(len(members), generator=generator)]
            count = min(len(members) - 1, max(1, round(share * len(members))))
            held.append(members[:count])
            kept.append(members[count:])
        return self._take(torch.cat(kept)), self._take(torch.cat(held))

    def _take(self, index: torch.Tensor) -> LabelledImages:
        index = index.sort().values
        return LabelledImages(self.images[index], self.labels[index])


def read_image_folder(folder: str | Path, classifier: Classifier) -> LabelledImages:
    """Every image under `folder`'s class sub-folders, resized for `classifier`.

    Args:
        folder: holds one sub-folder of images per class (see the module's docstring).
        classifier: gives the labels, channels and input size.

    Returns:
        The images and their classes.

    Raises:
        FoolingError: no such folder, a sub-folder that names no class (or repeats
            one), an unreadable image, no images at all, or more than
            `MAX_FOLDER_IMAGES`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FoolingError(f"--data {folder} is not a folder")
    channels = classifier.input_shape[0]
    images: list[torch.Tensor] = []
    labels: list[int] = []
    seen: dict[int, str] = {}
    for sub in sorted(path for path in folder.iterdir() if not path.name.startswith(".")):
        if not sub.is_dir():
            continue
        value = _class_of(sub.name, classifier)
        if value in seen:
            raise FoolingError(f"{sub} and {folder / seen[value]} both hold class {value}")
        seen[value] = sub.name
        for path in sorted(sub.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            if len(images) >= MAX_FOLDER_IMAGES:
                raise FoolingError(f"{folder} holds more than {MAX_FOLDER_IMAGES:,} images")
            image = classifier.fit(read_image(path, channels).unsqueeze(0)).cpu()
            images.append(to_bytes(image)[0])
            labels.append(value)
    if not images:
        raise FoolingError(f"{folder} holds no images in class sub-folders")
    return LabelledImages(torch.stack(images), torch.tensor(labels, dtype=torch.long))


def _class_of(name: str, classifier: Classifier) -> int:
    """The class a sub-folder's name means: a label, an index, or `NNN_label`."""
    if name in classifier.labels:
        return classifier.labels.index(name)
    numbered = re.fullmatch(r"(\d+)(_.*)?", name)
    if numbered and int(numbered[1]) < classifier.num_classes:
        index = int(numbered[1])
        as_saved = PurePosixPath(image_filename(index, classifier.labels[index])).stem
        if numbered[2] is None or name == as_saved:
            return index
    raise FoolingError(
        f"data sub-folder {name!r} names no class of {classifier.name} "
        "(use a label, an index, or INDEX_LABEL)"
    )
