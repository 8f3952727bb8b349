//! Function chaining: a picture through three OpenFaaS functions in sequence (transpose,
//! black-and-white, thumbnail), once with synchronous calls and once with asynchronous ones.
//!
//! Pictures travel as binary Netpbm (P6 for colour, P5 for gray), base64-encoded: each function's
//! request and answer body is that text, and the state machine passes it on as a string.

use anyhow::{ensure, Context};
use base64::Engine as _;
use legion_testkit::openfaas::{handler, FunctionCall, FunctionHandler, FunctionReply};
use serde_json::{json, Value};

use crate::stack::{succeeded, Stack};

const DEFINITION: &str = include_str!("definition.asl.json");
/// The test picture's size.
const WIDTH: usize = 96;
const HEIGHT: usize = 64;
/// The thumbnail is this many times smaller on each side.
const FACTOR: usize = 4;

/// Runs the example: prints what each chain made and checks it against the same transformations
/// computed here.
pub async fn run() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    stack.deploy("transpose", image_function(|p| Ok(transpose(p)))).await?;
    stack.deploy("black-and-white", image_function(black_and_white)).await?;
    stack.deploy("thumbnail", image_function(|p| Ok(thumbnail(p, FACTOR)))).await?;

    let picture = test_picture();
    let ppm = picture.encode();
    println!("picture: {} ({} bytes)", picture.describe(), ppm.len());
    let input = json!({ "image": BASE64.encode(&ppm) });

    let started = std::time::Instant::now();
    let (execution, outcome) = stack.run("function-chaining", DEFINITION, input).await?;
    let output = succeeded(&outcome)?;
    let elapsed = started.elapsed();

    let expected = expected_thumbnail(&picture).encode();
    let mut thumbnails = Vec::new();
    for chain in ["synchronous", "asynchronous"] {
        let bytes = decode_image(&output[chain]["image"]).with_context(|| format!("the {chain} chain's answer"))?;
        let thumbnail = Picture::parse(&bytes).map_err(anyhow::Error::msg).context(chain)?;
        ensure!(bytes == expected, "the {chain} thumbnail ({}) is not the expected one", thumbnail.describe());
        println!("{chain:>12} chain: transpose → black-and-white → thumbnail = {}", thumbnail.describe());
        thumbnails.push(bytes);
    }
    ensure!(thumbnails[0] == thumbnails[1], "the two chains made different thumbnails");
    println!("both thumbnails are the same {} bytes, equal to the transformations computed directly", expected.len());

    let stats = stack.gateway_stats_after(3).await;
    ensure!(stats.queued == 3, "the gateway queued {} asynchronous calls, not 3", stats.queued);
    ensure!(stats.callbacks_delivered == 3, "{} callbacks were delivered, not 3", stats.callbacks_delivered);
    println!(
        "gateway: {} calls queued, {} callbacks delivered (last call id {}), {} synchronous calls in all",
        stats.queued, stats.callbacks_delivered, output["asynchronous"]["callId"], stats.sync_calls
    );
    println!("{}: {} history events in {elapsed:.2?}", execution.arn(), execution.history().len());

    let dir = std::env::temp_dir().join("legion-function-chaining");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (file, bytes) in [("picture.ppm", &ppm), ("thumbnail.pgm", &expected)] {
        std::fs::write(dir.join(file), bytes).with_context(|| format!("writing {file}"))?;
    }
    println!("wrote {} and {}", dir.join("picture.ppm").display(), dir.join("thumbnail.pgm").display());
    Ok(())
}

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn decode_image(value: &Value) -> anyhow::Result<Vec<u8>> {
    let text = value.as_str().context("the image is not a string")?;
    BASE64.decode(text.trim()).context("the image is not base64")
}

/// An OpenFaaS function that reads a base64 Netpbm picture from its body, applies `transform` and
/// answers with the result the same way; a body it cannot read is a 400.
fn image_function(transform: fn(&Picture) -> Result<Picture, String>) -> FunctionHandler {
    handler(move |call: FunctionCall| async move {
        let Ok(text) = std::str::from_utf8(&call.body) else {
            return FunctionReply::text(400, "the body is not base64 text\n");
        };
        let Ok(bytes) = BASE64.decode(text.trim()) else {
            return FunctionReply::text(400, "the body is not base64\n");
        };
        let result = Picture::parse(&bytes).and_then(|p| transform(&p));
        match result {
            Ok(picture) => FunctionReply::text(200, &BASE64.encode(picture.encode())),
            Err(e) => FunctionReply::text(400, &format!("{e}\n")),
        }
    })
}

/// An 8-bit Netpbm picture: RGB (P6, 3 channels) or gray (P5, 1 channel), row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Picture {
    width: usize,
    height: usize,
    channels: usize,
    samples: Vec<u8>,
}

impl Picture {
    fn new(width: usize, height: usize, channels: usize) -> Picture {
        Picture { width, height, channels, samples: vec![0; width * height * channels] }
    }

    /// The samples of the pixel at column `x`, row `y`.
    fn pixel(&self, x: usize, y: usize) -> &[u8] {
        let at = (y * self.width + x) * self.channels;
        &self.samples[at..at + self.channels]
    }

    fn pixel_mut(&mut self, x: usize, y: usize) -> &mut [u8] {
        let at = (y * self.width + x) * self.channels;
        &mut self.samples[at..at + self.channels]
    }

    fn describe(&self) -> String {
        let kind = if self.channels == 3 { "RGB, P6" } else { "gray, P5" };
        format!("{}×{} {kind}", self.width, self.height)
    }

    /// The binary Netpbm file.
    fn encode(&self) -> Vec<u8> {
        let magic = if self.channels == 3 { "P6" } else { "P5" };
        let mut bytes = format!("{magic}\n{} {}\n255\n", self.width, self.height).into_bytes();
        bytes.extend_from_slice(&self.samples);
        bytes
    }

    /// Reads a binary P6 or P5 file with a maximum value of 255 (header comments allowed).
    fn parse(bytes: &[u8]) -> Result<Picture, String> {
        let mut header = Header { bytes, at: 0 };
        let channels = match header.token()? {
            b"P6" => 3,
            b"P5" => 1,
            other => return Err(format!("not a binary PPM or PGM (magic {:?})", String::from_utf8_lossy(other))),
        };
        let width = header.number()?;
        let height = header.number()?;
        if header.number()? != 255 {
            return Err("only 8-bit samples (maximum value 255) are supported".into());
        }
        // Exactly one whitespace byte separates the header from the samples.
        let data = bytes.get(header.at + 1..).ok_or("the picture has no samples")?;
        let size = width.checked_mul(height).and_then(|n| n.checked_mul(channels)).ok_or("the picture is too large")?;
        if width == 0 || height == 0 || data.len() != size {
            return Err(format!("a {width}×{height} picture needs {size} samples, the file has {}", data.len()));
        }
        Ok(Picture { width, height, channels, samples: data.to_vec() })
    }
}

/// The whitespace-separated tokens of a Netpbm header.
struct Header<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Header<'a> {
    fn token(&mut self) -> Result<&'a [u8], String> {
        loop {
            match self.bytes.get(self.at) {
                Some(b) if b.is_ascii_whitespace() => self.at += 1,
                Some(b'#') => {
                    while self.bytes.get(self.at).is_some_and(|&b| b != b'\n') {
                        self.at += 1;
                    }
                }
                Some(_) => break,
                None => return Err("the header ends early".into()),
            }
        }
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(|b| !b.is_ascii_whitespace()) {
            self.at += 1;
        }
        Ok(&self.bytes[start..self.at])
    }

    fn number(&mut self) -> Result<usize, String> {
        let token = self.token()?;
        std::str::from_utf8(token)
            .ok()
            .and_then(|t| t.parse().ok())
            .filter(|&n| n <= 1 << 16)
            .ok_or_else(|| format!("{:?} is not a size in the header", String::from_utf8_lossy(token)))
    }
}

/// Swaps rows and columns: the result is `height` wide and `width` high.
fn transpose(p: &Picture) -> Picture {
    let mut out = Picture::new(p.height, p.width, p.channels);
    for y in 0..p.height {
        for x in 0..p.width {
            out.pixel_mut(y, x).copy_from_slice(p.pixel(x, y));
        }
    }
    out
}

/// ITU-R BT.601 luma of an RGB pixel, rounded: 0.299 R + 0.587 G + 0.114 B.
fn luma(rgb: &[u8]) -> u8 {
    let [r, g, b] = [rgb[0], rgb[1], rgb[2]].map(u32::from);
    ((299 * r + 587 * g + 114 * b + 500) / 1000) as u8
}

/// Converts an RGB picture to gray; a gray one is refused.
fn black_and_white(p: &Picture) -> Result<Picture, String> {
    if p.channels != 3 {
        return Err("black-and-white takes an RGB picture (P6)".into());
    }
    let samples = p.samples.chunks_exact(3).map(luma).collect();
    Ok(Picture { width: p.width, height: p.height, channels: 1, samples })
}

/// Shrinks a picture `factor` times on each side, each pixel the rounded mean of its box (the boxes
/// on the right and bottom edges are cut short when the sides are not multiples of `factor`).
fn thumbnail(p: &Picture, factor: usize) -> Picture {
    let mut out = Picture::new(p.width.div_ceil(factor), p.height.div_ceil(factor), p.channels);
    for ty in 0..out.height {
        for tx in 0..out.width {
            let (xs, ys) =
                (tx * factor..((tx + 1) * factor).min(p.width), ty * factor..((ty + 1) * factor).min(p.height));
            let n = (xs.len() * ys.len()) as u32;
            for c in 0..p.channels {
                let sum: u32 = ys
                    .clone()
                    .flat_map(|y| xs.clone().map(move |x| (x, y)))
                    .map(|(x, y)| u32::from(p.pixel(x, y)[c]))
                    .sum();
                out.pixel_mut(tx, ty)[c] = ((sum + n / 2) / n) as u8;
            }
        }
    }
    out
}

/// The thumbnail the chain should make, computed in one pass over the original: thumbnail pixel
/// (tx, ty) is the mean luma of the original's pixels (x, y) with x in box ty and y in box tx.
fn expected_thumbnail(original: &Picture) -> Picture {
    let (w, h) = (original.height, original.width); // after the transposition
    let mut out = Picture::new(w.div_ceil(FACTOR), h.div_ceil(FACTOR), 1);
    for ty in 0..out.height {
        for tx in 0..out.width {
            let (mut sum, mut n) = (0u32, 0u32);
            for x in ty * FACTOR..((ty + 1) * FACTOR).min(original.width) {
                for y in tx * FACTOR..((tx + 1) * FACTOR).min(original.height) {
                    sum += u32::from(luma(original.pixel(x, y)));
                    n += 1;
                }
            }
            out.pixel_mut(tx, ty)[0] = ((sum + n / 2) / n) as u8;
        }
    }
    out
}

/// A `WIDTH`×`HEIGHT` RGB picture: red grows to the right, green downwards, with a yellow disc and
/// a dark bar, so that a wrong transposition or scale shows.
fn test_picture() -> Picture {
    let mut p = Picture::new(WIDTH, HEIGHT, 3);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let (dx, dy) = (x as i64 - 62, y as i64 - 26);
            let rgb = if dx * dx + dy * dy <= 18 * 18 {
                [255, 220, 0]
            } else if (10..30).contains(&x) && (40..56).contains(&y) {
                [20, 20, 60]
            } else {
                [(x * 255 / (WIDTH - 1)) as u8, (y * 255 / (HEIGHT - 1)) as u8, 128]
            };
            p.pixel_mut(x, y).copy_from_slice(&rgb);
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netpbm_round_trips_and_bad_files_are_refused() {
        let p = test_picture();
        assert_eq!(Picture::parse(&p.encode()), Ok(p.clone()));
        assert!(Picture::parse(b"P6\n2 2\n255\n\x00").is_err());
        assert!(Picture::parse(b"P3\n1 1\n255\n0 0 0").is_err());
        assert!(Picture::parse(b"P5\n# a comment\n1 1\n255\n\x07").is_ok_and(|g| g.samples == [7]));
        assert!(Picture::parse(b"P5\n99999999999999999999 1\n255\n").is_err());
    }

    #[test]
    fn transformations() {
        let p = test_picture();
        let t = transpose(&p);
        assert_eq!((t.width, t.height), (HEIGHT, WIDTH));
        assert_eq!(t.pixel(5, 7), p.pixel(7, 5));
        assert_eq!(luma(&[255, 255, 255]), 255);
        assert_eq!(luma(&[255, 0, 0]), 76);
        let odd = Picture { width: 5, height: 1, channels: 1, samples: vec![0, 4, 8, 12, 100] };
        assert_eq!(thumbnail(&odd, 4).samples, [6, 100]);
    }
}
