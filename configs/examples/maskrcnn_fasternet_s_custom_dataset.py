# Mask R-CNN with FasterNet-S on your own COCO-format instance-segmentation
# data. Change the four marked lines; everything else is the COCO 1x recipe.
#
#   my_data/
#     annotations/train.json   annotations/val.json   (COCO format)
#     images/...               (paths as in the json "file_name")
#
#   python tools/train.py configs/examples/maskrcnn_fasternet_s_custom_dataset.py
#   python tools/test.py configs/examples/maskrcnn_fasternet_s_custom_dataset.py \
#       work_dirs/maskrcnn_fasternet_s_custom_dataset/epoch_12.pth --eval bbox segm
_base_ = '../maskrcnn_fasternet_s_coco.py'

data_root = 'my_data/'  # 1. your dataset root
classes = ('cat', 'dog')  # 2. class names, in the json's category order
train_ann = 'annotations/train.json'  # 3. training annotations
val_ann = 'annotations/val.json'  # 4. validation annotations

metainfo = dict(classes=classes)
model = dict(
    roi_head=dict(
        bbox_head=dict(num_classes=len(classes)),
        mask_head=dict(num_classes=len(classes))))

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file=train_ann,
        data_prefix=dict(img='images/')))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file=val_ann,
        data_prefix=dict(img='images/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + val_ann)
test_evaluator = val_evaluator

# Fine-tuning from a COCO-trained FasterNet-S Mask R-CNN instead of the
# ImageNet backbone: load_from = 'checkpoints/<coco checkpoint>.pth'
