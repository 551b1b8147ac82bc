# Demo: RTMDet-tiny with FasterNet-T0 trained FROM SCRATCH on the synthetic
# COCO-format shapes set (python tools/misc/make_demo_data.py coco
# data/demo_coco), sized for a 2-core CPU (the README gives the time and AP
# measured). Not a COCO recipe. RTMDet's recipe keeps its structure, scaled
# down:
# - images of 256x256 (COCO: 640x640): mosaic, mixup, random resize and crop
#   all work at the demo's image size, so the shapes keep the sizes the test
#   images show them at;
# - EPOCHS epochs (COCO: 300), of which the last STAGE2_EPOCHS train on the
#   plain pipeline (random resize and crop, no mosaic or mixup), switched by
#   PipelineSwitchHook as on COCO (the last 20 of 300 there): the
#   mixed-image stage gives the many shapes per image a small set lacks, the
#   plain one fits the model to whole images again;
# - batch 8 on one process (COCO: 256 over 8 GPUs), with COCO's lr of
#   0.004 kept rather than divided by 32 with the batch, for a short run
#   from random weights (one setting tried, the README's); warm-up 50
#   iterations (COCO: 1000), cosine decay over the second half, as on COCO;
# - EMA scaled 10x (momentum 0.002, warm-up gamma 200; COCO: 0.0002 and
#   2000) for a run about 300 times shorter: 450 iterations, COCO's about
#   140,000;
# - at most 100 boxes per image from the 1,000 best-scored points (COCO: 300
#   from 30,000), which the 1-4 shapes of an image never reach.
_base_ = '../rtmdet_fasternet_t0_coco.py'

data_root = 'data/demo_coco/'
metainfo = dict(
    classes=('circle', 'square', 'triangle'),
    palette=[(220, 20, 60), (0, 128, 255), (255, 200, 0)])
image_scale = (256, 256)
EPOCHS = 15
STAGE2_EPOCHS = 3
base_lr = 0.004

model = dict(
    backbone=dict(init_cfg=None),  # no pretrained weights: from scratch
    bbox_head=dict(num_classes=3),
    test_cfg=dict(nms_pre=1000, max_per_img=100))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='CachedMosaic',
        img_scale=image_scale,
        pad_val=114.0,
        max_cached_images=20,
        random_pop=False),
    dict(
        type='RandomResize',
        scale=(image_scale[0] * 2, image_scale[1] * 2),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=image_scale),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=image_scale, pad_val=dict(img=(114, 114, 114))),
    dict(
        type='CachedMixUp',
        img_scale=image_scale,
        ratio_range=(1.0, 1.0),
        max_cached_images=10,
        random_pop=False,
        pad_val=(114, 114, 114),
        prob=0.5),
    dict(type='PackDetInputs')
]
train_pipeline_stage2 = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomResize',
        scale=image_scale,
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=image_scale),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=image_scale, pad_val=dict(img=(114, 114, 114))),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='Pad', size=image_scale, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor')),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    pin_memory=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

# Validation once, at the end (COCO: every 10 epochs, then every epoch).
train_cfg = dict(
    max_epochs=EPOCHS, val_interval=EPOCHS, dynamic_intervals=None)
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0e-3,
        by_epoch=False,
        begin=0,
        end=50),
    dict(
        type='CosineAnnealingLR',
        eta_min=base_lr * 0.05,
        begin=EPOCHS // 2,
        end=EPOCHS,
        T_max=EPOCHS // 2,
        by_epoch=True,
        convert_to_iter_based=True),
]
custom_hooks = [
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.002,
        gamma=200,
        update_buffers=True,
        priority=49),
    dict(
        type='PipelineSwitchHook',
        switch_epoch=EPOCHS - STAGE2_EPOCHS,
        switch_pipeline=train_pipeline_stage2)
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=EPOCHS, max_keep_ckpts=1))
log_processor = dict(window_size=10)
# Seeded, so that a run repeats the figures the README gives.
randomness = dict(seed=0)
