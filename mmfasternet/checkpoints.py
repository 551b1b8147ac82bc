"""File names of the original FasterNet ImageNet release (v1.0), which the
configs expect under ``checkpoints/``. Nothing is downloaded at run time."""
ORIGINAL_CHECKPOINTS = dict(
    t0='fasternet_t0-epoch.281-val_acc1.71.9180.pth',
    t1='fasternet_t1-epoch.291-val_acc1.76.2180.pth',
    t2='fasternet_t2-epoch.289-val_acc1.78.8860.pth',
    s='fasternet_s-epoch.299-val_acc1.81.2840.pth',
    m='fasternet_m-epoch.291-val_acc1.82.9620.pth',
    l='fasternet_l-epoch.299-val_acc1.83.5060.pth',
)
