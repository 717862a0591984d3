//! The colour interpretation of a video stream (YUV matrix and range) and the swscale
//! options that convert to and from RGB with it, so restored videos keep their colours.

use ffmpeg_next::color;
use ffmpeg_next::format::Pixel;

/// The YUV↔RGB matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matrix {
    Bt601,
    Bt709,
    Bt2020,
    Fcc,
    Smpte240m,
}

/// Limited ("tv", 16–235) or full ("pc", 0–255) range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Limited,
    Full,
}

/// How a stream's YUV samples map to RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColorInfo {
    pub matrix: Matrix,
    pub range: Range,
    /// Whether the stream said which matrix it uses (otherwise it was inferred from the
    /// frame height, as players do).
    pub matrix_tagged: bool,
    /// The stream's own matrix tag when it had one. Several tags share a conversion
    /// (`bt470bg` and `smpte170m`, the two BT.2020 ones), and the output keeps the
    /// source's exact tag rather than a canonical one.
    pub space_tag: Option<color::Space>,
    pub primaries: color::Primaries,
    pub transfer: color::TransferCharacteristic,
}

/// Height from which an untagged stream is taken to be HD (BT.709), as players assume.
const HD_HEIGHT: u32 = 720;

impl ColorInfo {
    /// Reads the colour tags of a decoded stream, filling in what is unspecified.
    pub fn from_stream(
        space: color::Space,
        range: color::Range,
        primaries: color::Primaries,
        transfer: color::TransferCharacteristic,
        format: Pixel,
        height: u32,
    ) -> Self {
        let tagged = matrix_of(space);
        let matrix = tagged.unwrap_or(if height >= HD_HEIGHT {
            Matrix::Bt709
        } else {
            Matrix::Bt601
        });
        let range = match range {
            color::Range::JPEG => Range::Full,
            color::Range::MPEG => Range::Limited,
            _ if is_jpeg_format(format) => Range::Full,
            _ => Range::Limited,
        };
        Self {
            matrix,
            range,
            matrix_tagged: tagged.is_some(),
            space_tag: tagged.map(|_| space),
            primaries,
            transfer,
        }
    }

    /// swscale options that read YUV of this kind and write full-range RGB.
    pub fn to_rgb_options(&self) -> String {
        format!(
            "in_color_matrix={}:in_range={}:out_range=full",
            self.matrix.swscale_name(),
            self.range.swscale_name()
        )
    }

    /// swscale options that write YUV of this kind from full-range RGB.
    pub fn from_rgb_options(&self) -> String {
        format!(
            "in_range=full:out_color_matrix={}:out_range={}",
            self.matrix.swscale_name(),
            self.range.swscale_name()
        )
    }

    /// The tag written on the output so players read it with the matrix used here: the
    /// source's own tag when it had one, else the tag of the matrix that was assumed.
    pub fn space(&self) -> color::Space {
        if let Some(tag) = self.space_tag {
            return tag;
        }
        match self.matrix {
            Matrix::Bt601 => color::Space::SMPTE170M,
            Matrix::Bt709 => color::Space::BT709,
            Matrix::Bt2020 => color::Space::BT2020NCL,
            Matrix::Fcc => color::Space::FCC,
            Matrix::Smpte240m => color::Space::SMPTE240M,
        }
    }

    /// The range tag for the output.
    pub fn range_tag(&self) -> color::Range {
        match self.range {
            Range::Limited => color::Range::MPEG,
            Range::Full => color::Range::JPEG,
        }
    }
}

impl Matrix {
    fn swscale_name(self) -> &'static str {
        match self {
            Matrix::Bt601 => "bt601",
            Matrix::Bt709 => "bt709",
            Matrix::Bt2020 => "bt2020",
            Matrix::Fcc => "fcc",
            Matrix::Smpte240m => "smpte240m",
        }
    }
}

impl Range {
    fn swscale_name(self) -> &'static str {
        match self {
            Range::Limited => "limited",
            Range::Full => "full",
        }
    }
}

fn matrix_of(space: color::Space) -> Option<Matrix> {
    match space {
        color::Space::BT709 => Some(Matrix::Bt709),
        color::Space::BT470BG | color::Space::SMPTE170M => Some(Matrix::Bt601),
        color::Space::BT2020NCL | color::Space::BT2020CL => Some(Matrix::Bt2020),
        color::Space::FCC => Some(Matrix::Fcc),
        color::Space::SMPTE240M => Some(Matrix::Smpte240m),
        _ => None,
    }
}

/// The deprecated `yuvj*` formats mean full range even when the range tag is missing.
pub fn is_jpeg_format(format: Pixel) -> bool {
    matches!(
        format,
        Pixel::YUVJ420P | Pixel::YUVJ422P | Pixel::YUVJ444P | Pixel::YUVJ440P | Pixel::YUVJ411P
    )
}

/// The full-range `yuvj*` twin of a planar YUV format, where there is one.
pub fn jpeg_alias(format: Pixel) -> Pixel {
    match format {
        Pixel::YUV420P => Pixel::YUVJ420P,
        Pixel::YUV422P => Pixel::YUVJ422P,
        Pixel::YUV444P => Pixel::YUVJ444P,
        Pixel::YUV440P => Pixel::YUVJ440P,
        Pixel::YUV411P => Pixel::YUVJ411P,
        other => other,
    }
}

/// The non-deprecated equivalent of a `yuvj*` format (encoders reject or mis-tag them).
pub fn without_jpeg_alias(format: Pixel) -> Pixel {
    match format {
        Pixel::YUVJ420P => Pixel::YUV420P,
        Pixel::YUVJ422P => Pixel::YUV422P,
        Pixel::YUVJ444P => Pixel::YUV444P,
        Pixel::YUVJ440P => Pixel::YUV440P,
        Pixel::YUVJ411P => Pixel::YUV411P,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(space: color::Space, range: color::Range, format: Pixel, height: u32) -> ColorInfo {
        ColorInfo::from_stream(
            space,
            range,
            color::Primaries::Unspecified,
            color::TransferCharacteristic::Unspecified,
            format,
            height,
        )
    }

    #[test]
    fn tagged_matrix_wins_over_height() {
        let c = info(color::Space::BT709, color::Range::MPEG, Pixel::YUV420P, 64);
        assert_eq!(
            (c.matrix, c.range, c.matrix_tagged),
            (Matrix::Bt709, Range::Limited, true)
        );
    }

    #[test]
    fn untagged_streams_follow_player_defaults() {
        let sd = info(
            color::Space::Unspecified,
            color::Range::Unspecified,
            Pixel::YUV420P,
            576,
        );
        let hd = info(
            color::Space::Unspecified,
            color::Range::Unspecified,
            Pixel::YUV420P,
            1080,
        );
        assert_eq!((sd.matrix, hd.matrix), (Matrix::Bt601, Matrix::Bt709));
        assert!(!sd.matrix_tagged);
    }

    #[test]
    fn the_source_matrix_tag_is_kept_exactly() {
        let jpeg = info(
            color::Space::BT470BG,
            color::Range::JPEG,
            Pixel::YUVJ420P,
            64,
        );
        assert_eq!(
            (jpeg.matrix, jpeg.space()),
            (Matrix::Bt601, color::Space::BT470BG)
        );
        let untagged = info(
            color::Space::Unspecified,
            color::Range::Unspecified,
            Pixel::YUV420P,
            64,
        );
        assert_eq!(untagged.space(), color::Space::SMPTE170M);
    }

    #[test]
    fn jpeg_formats_are_full_range() {
        let c = info(
            color::Space::Unspecified,
            color::Range::Unspecified,
            Pixel::YUVJ420P,
            64,
        );
        assert_eq!(c.range, Range::Full);
        assert_eq!(without_jpeg_alias(Pixel::YUVJ420P), Pixel::YUV420P);
    }

    #[test]
    fn swscale_options_name_matrix_and_range() {
        let c = info(color::Space::BT709, color::Range::MPEG, Pixel::YUV420P, 64);
        assert_eq!(
            c.to_rgb_options(),
            "in_color_matrix=bt709:in_range=limited:out_range=full"
        );
        assert_eq!(
            c.from_rgb_options(),
            "in_range=full:out_color_matrix=bt709:out_range=limited"
        );
    }
}
