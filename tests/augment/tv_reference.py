"""The independent reference: torchvision's functional ops applied to one image at a time."""

import torch
import torchvision.transforms.v2.functional as TF

JITTER_FUNCTIONS = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)


def reference_views(images, params, config):
    """Apply `params` (AugParams) to (B, 3, H, W) images sample by sample with torchvision."""
    d = params.as_dict()
    out = []
    for b in range(images.shape[0]):
        top, left, height, width = d["crop_box"][b].tolist()
        x = TF.resized_crop(images[b], top, left, height, width, list(config.size), antialias=False)
        if d["flip"][b]:
            x = TF.hflip(x)
        if d["jitter_applied"][b]:
            factors = d["jitter_factors"][b].tolist()
            for op in d["jitter_order"][b].tolist():
                x = JITTER_FUNCTIONS[op](x, factors[op])
        if d["grayscale"][b]:
            x = TF.rgb_to_grayscale(x, num_output_channels=3)
        sigma = float(d["blur_sigma"][b])
        if sigma > 0:
            x = TF.gaussian_blur(x, [config.blur_kernel] * 2, [sigma, sigma])
        if d["solarize"][b]:
            x = TF.solarize(x, float(d["solarize_threshold"][b]))
        x = TF.rotate(x, 90.0 * int(d["rotation_k"][b]))
        out.append(x)
    return torch.stack(out)


def structured_images(batch, height, width, seed=0):
    """Images with the cases that break colour maths: grey pixels, pure primaries, channel ties,
    hard 0 / 1 values and sharp edges, plus smooth gradients."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij")
    base = torch.stack([xx, yy, 1 - xx * yy])
    palette = torch.tensor([[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5], [1, 0, 0], [0, 1, 0], [0, 0, 1],
                            [1, 1, 0], [0, 1, 1], [1, 0, 1], [0.3, 0.3, 0.9], [0.7, 0.2, 0.2]], dtype=torch.float32)
    images = []
    for b in range(batch):
        img = base.clone()
        blocks = torch.randint(0, len(palette), (4, 4), generator=g)
        tiles = palette[blocks].permute(2, 0, 1)  # (3, 4, 4)
        tiles = torch.nn.functional.interpolate(tiles[None], size=(height, width), mode="nearest")[0]
        mask = torch.rand(1, height, width, generator=g) < 0.5
        img = torch.where(mask, tiles, img)
        # Quantised values make exact channel ties (max == min on two channels) common.
        images.append((img * 4).round() / 4 if b % 2 else img)
    return torch.stack(images).clamp(0, 1)
