"""Write small synthetic datasets in the real benchmark formats, so that every
demo and end-to-end test runs without downloading anything.

    python tools/misc/make_demo_data.py coco data/demo_coco [--train 240 --val 60]
    python tools/misc/make_demo_data.py ade20k data/demo_ade/ADEChallengeData2016
    python tools/misc/make_demo_data.py imagenet data/demo_imagenet --size 72 72

Each image holds 1-4 non-overlapping shapes (circle, square, triangle) in
random colours, sizes and rotations on a textured background (one large
shape for ``imagenet``).

``coco``: instance segmentation in the COCO 2017 layout: ``train2017/``,
``val2017/`` and ``annotations/instances_{train,val}2017.json`` with polygon
masks.

``ade20k``: semantic segmentation in the ADEChallengeData2016 layout:
``images/{training,validation}/*.jpg`` and ``annotations/...*.png`` label
maps where, as in ADE20K, 0 means "unlabelled" (here: the shapes' outlines)
and classes start at 1 (1 background, 2 circle, 3 square, 4 triangle), for
``reduce_zero_label=True``.

``imagenet``: classification in the layout of mmpretrain's ``ImageNet``
dataset (class folders under ``train/``, a flat ``val/``, ``meta/*.txt``).
"""
import argparse
import json
import math
import os
import os.path as osp

import numpy as np
from PIL import Image, ImageDraw

SHAPE_CLASSES = ('circle', 'square', 'triangle')


def textured_background(rng: np.random.Generator, height: int,
                        width: int) -> np.ndarray:
    """A colour gradient with stripes and noise, so that shapes must be found
    by form and not by a flat background."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(60, 200, size=3)
    slope = rng.uniform(-0.3, 0.3, size=(2, 3))
    image = base + ys[..., None] * slope[0] + xs[..., None] * slope[1]
    angle = rng.uniform(0, math.pi)
    period = rng.uniform(6, 20)
    stripes = np.sin((xs * math.cos(angle) + ys * math.sin(angle)) /
                     period * 2 * math.pi)
    image += stripes[..., None] * rng.uniform(5, 25)
    image += rng.normal(0, 8, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def shape_polygon(kind: str, cx: float, cy: float, radius: float,
                  angle: float):
    """Vertices (x, y) of a shape centred at (cx, cy)."""
    if kind == 'circle':
        corners = 32
        return [(cx + radius * math.cos(2 * math.pi * i / corners),
                 cy + radius * math.sin(2 * math.pi * i / corners))
                for i in range(corners)]
    corners = 4 if kind == 'square' else 3
    return [(cx + radius * math.cos(angle + 2 * math.pi * i / corners),
             cy + radius * math.sin(angle + 2 * math.pi * i / corners))
            for i in range(corners)]


def place_shapes(rng, height, width, count, radius_range=(0.08, 0.2)):
    """Centres and radii of up to ``count`` shapes that do not overlap;
    radii are drawn from ``radius_range`` times the shorter image side."""
    placed = []
    for _ in range(count * 20):
        if len(placed) == count:
            break
        radius = rng.uniform(*radius_range) * min(height, width)
        cx = rng.uniform(radius + 2, width - radius - 2)
        cy = rng.uniform(radius + 2, height - radius - 2)
        if all(math.hypot(cx - x, cy - y) > radius + r + 4
               for x, y, r in placed):
            placed.append((cx, cy, radius))
    return placed


def plain_background(rng: np.random.Generator, height: int,
                     width: int) -> np.ndarray:
    """One random dark colour with mild noise."""
    image = rng.uniform(0, 110, size=3) + rng.normal(
        0, 8, size=(height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def render_shapes(rng, height, width, labels=None,
                  radius_range=(0.08, 0.2), textured=True):
    """An image with shapes drawn on a textured (or plain, dark)
    background, and the (class index, polygon) of each shape: 1-4 shapes of
    random classes, or one shape of each class index in ``labels``."""
    background = textured_background if textured else plain_background
    image = Image.fromarray(background(rng, height, width))
    draw = ImageDraw.Draw(image)
    shapes = []
    count = len(labels) if labels is not None else int(rng.integers(1, 5))
    for index, (cx, cy, radius) in enumerate(
            place_shapes(rng, height, width, count, radius_range)):
        label = (labels[index] if labels is not None else int(
            rng.integers(len(SHAPE_CLASSES))))
        points = shape_polygon(SHAPE_CLASSES[label], cx, cy, radius,
                               rng.uniform(0, 2 * math.pi))
        # On plain backgrounds, light shapes: always visible, and brightness
        # says nothing about the class.
        low = 0 if textured else 145
        colour = tuple(int(c) for c in rng.integers(low, 256, size=3))
        draw.polygon(points, fill=colour, outline=(0, 0, 0))
        shapes.append((label, points))
    return image, shapes


def polygon_area(points) -> float:
    xs, ys = zip(*points)
    return 0.5 * abs(
        sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(xs))))


def make_coco_split(root, split, num_images, size, rng, first_image_id):
    image_dir = osp.join(root, f'{split}2017')
    os.makedirs(image_dir, exist_ok=True)
    images, annotations = [], []
    for index in range(num_images):
        image_id = first_image_id + index
        height, width = size
        image, shapes = render_shapes(rng, height, width)
        for label, points in shapes:
            xs, ys = zip(*points)
            x0, y0 = max(min(xs), 0), max(min(ys), 0)
            x1, y1 = min(max(xs), width), min(max(ys), height)
            annotations.append(
                dict(
                    id=len(annotations) + 1 + first_image_id * 10,
                    image_id=image_id,
                    category_id=label + 1,
                    segmentation=[[round(v, 2) for p in points for v in p]],
                    area=round(polygon_area(points), 2),
                    bbox=[round(x0, 2), round(y0, 2), round(x1 - x0, 2),
                          round(y1 - y0, 2)],
                    iscrowd=0))
        file_name = f'{image_id:012d}.jpg'
        image.save(osp.join(image_dir, file_name), quality=95)
        images.append(
            dict(id=image_id, file_name=file_name, height=height,
                 width=width))
    coco = dict(
        info=dict(description='mmfasternet synthetic shapes (COCO format)'),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=[
            dict(id=i + 1, name=name, supercategory='shape')
            for i, name in enumerate(SHAPE_CLASSES)
        ])
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    with open(osp.join(root, 'annotations', f'instances_{split}2017.json'),
              'w') as f:
        json.dump(coco, f)
    return len(images), len(annotations)


def make_coco(root, num_train, num_val, size, seed):
    rng = np.random.default_rng(seed)
    counts = {}
    counts['train'] = make_coco_split(root, 'train', num_train, size, rng, 1)
    counts['val'] = make_coco_split(root, 'val', num_val, size, rng,
                                    num_train + 1)
    return counts


SEGMENTATION_CLASSES = ('background', ) + SHAPE_CLASSES


def make_ade20k(root, num_train, num_val, size, seed):
    rng = np.random.default_rng(seed)
    counts = {}
    for split, count in (('training', num_train), ('validation', num_val)):
        image_dir = osp.join(root, 'images', split)
        label_dir = osp.join(root, 'annotations', split)
        os.makedirs(image_dir, exist_ok=True)
        os.makedirs(label_dir, exist_ok=True)
        for index in range(count):
            height, width = size
            image, shapes = render_shapes(rng, height, width)
            labels = Image.new('L', (width, height), color=1)
            draw_labels = ImageDraw.Draw(labels)
            for label, points in shapes:
                draw_labels.polygon(points, fill=label + 2, outline=0)
            name = f'ADE_{split[:5]}_{index + 1:08d}'
            image.save(osp.join(image_dir, name + '.jpg'), quality=95)
            labels.save(osp.join(label_dir, name + '.png'))
        counts[split] = count
    return counts


def make_imagenet(root, num_train, num_val, size, seed):
    """ImageNet in the layout mmpretrain's ``ImageNet`` dataset reads:
    ``train/<class>/<class>_<n>.JPEG``, a flat ``val/`` folder of
    ``ILSVRC2012_val_<n>.JPEG`` and ``meta/{train,val}.txt`` lists of
    ``path label`` lines. Each image shows one large shape; the class folders
    are named after the shapes (ImageNet's are WordNet ids) and labels
    follow their sorted order, as in ImageNet."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    counts = {}
    for split, count in (('train', num_train), ('val', num_val)):
        lines = []
        for index in range(count):
            label = index % len(SHAPE_CLASSES)  # balanced classes
            image, _ = render_shapes(rng, *size, labels=[label],
                                     radius_range=(0.22, 0.42),
                                     textured=False)
            name = SHAPE_CLASSES[label]
            if split == 'train':
                path = f'{name}/{name}_{index + 1}.JPEG'
            else:
                path = f'ILSVRC2012_val_{index + 1:08d}.JPEG'
            os.makedirs(osp.dirname(osp.join(root, split, path)),
                        exist_ok=True)
            image.save(osp.join(root, split, path), format='JPEG',
                       quality=95)
            lines.append(f'{path} {label}\n')
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.writelines(lines)
        counts[split] = count
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('kind', choices=['coco', 'ade20k', 'imagenet'],
                        help='dataset format')
    parser.add_argument('out', help='dataset root to write')
    parser.add_argument('--train', type=int, default=240,
                        help='training images')
    parser.add_argument('--val', type=int, default=60,
                        help='validation images')
    parser.add_argument('--size', type=int, nargs=2, default=(256, 256),
                        metavar=('H', 'W'), help='image size')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.kind in ('ade20k', 'imagenet'):
        make = make_ade20k if args.kind == 'ade20k' else make_imagenet
        for split, images in make(args.out, args.train, args.val,
                                  tuple(args.size), args.seed).items():
            print(f'{args.out}: {split} {images} images')
        return
    counts = make_coco(args.out, args.train, args.val, tuple(args.size),
                       args.seed)
    for split, (images, objects) in counts.items():
        print(f'{args.out}: {split}2017 {images} images, {objects} objects')


if __name__ == '__main__':
    main()
