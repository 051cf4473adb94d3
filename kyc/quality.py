"""Image quality of an uploaded document: resolution, sharpness, exposure.

Sharpness is the variance of the Laplacian at a normalised width (so a photo's pixel count
does not change the score); exposure is the mean brightness and the share of clipped pixels.
"""

from dataclasses import dataclass

from PIL import Image, ImageFilter, ImageOps, ImageStat

NORMALISED_WIDTH = 1000
MIN_WIDTH, MIN_HEIGHT = 1000, 600
MIN_SHARPNESS = 150.0  # a blur radius of 2 px at 1500 px wide already falls below
DARK, BRIGHT = 50, 245
MAX_CLIPPED = 0.35

_LAPLACIAN = ImageFilter.Kernel((3, 3), [0, 1, 0, 1, -4, 1, 0, 1, 0], scale=1, offset=128)


@dataclass
class Quality:
    width: int
    height: int
    sharpness: float
    brightness: float
    clipped: float

    @property
    def problems(self) -> list[str]:
        found = []
        if self.width < MIN_WIDTH or self.height < MIN_HEIGHT:
            found.append(f"resolution {self.width}x{self.height} is below {MIN_WIDTH}x{MIN_HEIGHT}")
        if self.sharpness < MIN_SHARPNESS:
            found.append(f"blurry: sharpness {self.sharpness:.0f} is below {MIN_SHARPNESS:.0f}")
        if self.brightness < DARK:
            found.append(f"too dark: mean brightness {self.brightness:.0f}")
        if self.brightness > BRIGHT or self.clipped > MAX_CLIPPED:
            found.append(f"over-exposed: {self.clipped:.0%} of pixels clipped")
        return found


def measure(image: Image.Image) -> Quality:
    gray = ImageOps.grayscale(image)
    width, height = gray.size
    small = gray.resize((NORMALISED_WIDTH, max(1, int(height * NORMALISED_WIDTH / width))))
    laplacian = small.filter(_LAPLACIAN)
    sharpness = ImageStat.Stat(laplacian).var[0]
    histogram = small.histogram()
    total = sum(histogram)
    clipped = (sum(histogram[:3]) + sum(histogram[253:])) / total  # saturated pixels
    return Quality(
        width,
        height,
        round(sharpness, 1),
        round(ImageStat.Stat(small).mean[0], 1),
        round(clipped, 3),
    )
