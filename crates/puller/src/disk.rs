//! Free space where Ollama keeps its models, measured with statvfs(3).
//!
//! The measurement is behind [`DiskProbe`] so tests and benchmarks can set
//! the numbers ([`FixedDisk`]) instead of filling a real file system.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// One measurement of a file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes an unprivileged writer (Ollama) may still use.
    pub free: u64,
    /// Size of the file system.
    pub total: u64,
}

impl Usage {
    /// Fraction in use, 0.0 to 1.0, counting reserved blocks as used: that
    /// is what `df` shows and what Ollama cannot write to.
    pub fn used_ratio(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        1.0 - self.free as f64 / self.total as f64
    }
}

/// Measures the file system holding a path.
pub trait DiskProbe: Send + Sync + 'static {
    fn usage(&self, path: &Path) -> std::io::Result<Usage>;
}

/// The real measurement: statvfs(3) of the path.
#[derive(Debug, Default, Clone, Copy)]
pub struct Statvfs;

impl DiskProbe for Statvfs {
    fn usage(&self, path: &Path) -> std::io::Result<Usage> {
        let st = nix::sys::statvfs::statvfs(path).map_err(std::io::Error::from)?;
        let block = st.fragment_size() as u64;
        Ok(Usage {
            free: st.blocks_available() as u64 * block,
            total: st.blocks() as u64 * block,
        })
    }
}

/// A file system whose numbers the caller sets, for tests and benchmarks.
/// Clones share the numbers.
#[derive(Debug, Clone, Default)]
pub struct FixedDisk(std::sync::Arc<(AtomicU64, AtomicU64)>);

impl FixedDisk {
    pub fn new(free: u64, total: u64) -> Self {
        let disk = Self::default();
        disk.set(free, total);
        disk
    }

    pub fn set(&self, free: u64, total: u64) {
        self.0 .0.store(free, Ordering::Relaxed);
        self.0 .1.store(total, Ordering::Relaxed);
    }
}

impl DiskProbe for FixedDisk {
    fn usage(&self, _path: &Path) -> std::io::Result<Usage> {
        Ok(Usage {
            free: self.0 .0.load(Ordering::Relaxed),
            total: self.0 .1.load(Ordering::Relaxed),
        })
    }
}

/// `1.9 GB`: decimal units, as registries and `ollama list` show sizes.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value < 100.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statvfs_measures_a_real_directory() {
        let usage = Statvfs.usage(Path::new("/")).unwrap();
        assert!(usage.total > 0 && usage.free <= usage.total);
        assert!(Statvfs.usage(Path::new("/nonexistent/models")).is_err());
    }

    #[test]
    fn ratios_and_human_sizes() {
        assert_eq!(
            Usage {
                free: 25,
                total: 100
            }
            .used_ratio(),
            0.75
        );
        assert_eq!(human(999), "999 B");
        assert_eq!(human(812_000_000), "812 MB");
        assert_eq!(human(1_900_000_000), "1.9 GB");
    }
}
