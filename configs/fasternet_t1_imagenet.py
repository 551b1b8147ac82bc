# FasterNet-T1 on ImageNet-1k, the original recipe (see the S config): batch
# 4096 (lr 0.004), weight decay 0.01, drop path 0.02, mixup 0.1, GELU,
# RandAugment m3. Released top-1: 76.2.
_base_ = './fasternet_s_imagenet.py'

model = dict(
    backbone=dict(arch='t1', drop_path_rate=0.02),
    head=dict(in_channels=512, act_cfg=dict(_delete_=True, type='GELU')),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.1),
        dict(type='CutMix', alpha=1.0),
    ]))
optim_wrapper = dict(optimizer=dict(weight_decay=0.01))

rand_augment = dict(
    type='RandAugment',
    policies='timm_increasing',
    num_policies=2,
    total_level=10,
    magnitude_level=3,
    magnitude_std=0.5,
    hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=192, backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    rand_augment,
    dict(type='PackInputs'),
]
train_pipeline_224 = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    rand_augment,
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
custom_hooks = [
    dict(type='SwitchRecipeHook',
         schedule=[dict(action_epoch=281, train_pipeline=train_pipeline_224)])
]
