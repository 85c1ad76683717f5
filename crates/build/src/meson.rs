//! Meson cross files: meson-python projects are configured as cross builds (`--cross-file`
//! through the backend's `setup-args` config setting) in every mode, so that Meson uses our
//! compilers, finds libraries with pkg-config inside the target sysroot, and runs the programs
//! it compiles for checks under the emulator (or the target's loader) instead of trying to
//! exec a foreign binary, which fails without binfmt.

use std::path::Path;

use manywheel_policy::Arch;

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn list(words: &[String]) -> String {
    let q: Vec<String> = words.iter().map(|w| quote(w)).collect();
    format!("[{}]", q.join(", "))
}

/// The pkg-config search folders of a Debian sysroot for `arch`.
pub fn pkg_config_libdir(arch: Arch, root: &Path) -> Vec<String> {
    let r = root.display();
    vec![
        format!("{r}/usr/lib/{}/pkgconfig", arch.gnu_triple()),
        format!("{r}/usr/lib/pkgconfig"),
        format!("{r}/usr/share/pkgconfig"),
    ]
}

/// What a cross file needs.
pub struct CrossFile<'a> {
    pub arch: Arch,
    pub root: &'a Path,
    pub cc: &'a [String],
    pub cxx: &'a [String],
    pub ar: Option<&'a str>,
    pub strip: Option<String>,
    /// The command that runs a program of the target (`None`: the host runs it directly).
    pub exe_wrapper: Option<Vec<String>>,
}

impl CrossFile<'_> {
    pub fn render(&self) -> String {
        let mut s = String::from("# written by manywheel build\n[binaries]\n");
        s.push_str(&format!("c = {}\n", list(self.cc)));
        s.push_str(&format!("cpp = {}\n", list(self.cxx)));
        if let Some(ar) = self.ar {
            s.push_str(&format!("ar = {}\n", quote(ar)));
        }
        if let Some(strip) = &self.strip {
            s.push_str(&format!("strip = {}\n", quote(strip)));
        }
        s.push_str("pkg-config = 'pkg-config'\n");
        if let Some(w) = &self.exe_wrapper {
            s.push_str(&format!("exe_wrapper = {}\n", list(w)));
        }
        s.push_str("\n[properties]\n");
        s.push_str(&format!(
            "sys_root = {}\n",
            quote(&self.root.display().to_string())
        ));
        s.push_str(&format!(
            "pkg_config_libdir = {}\n",
            list(&pkg_config_libdir(self.arch, self.root))
        ));
        s.push_str(&format!(
            "needs_exe_wrapper = {}\n",
            if self.exe_wrapper.is_some() {
                "true"
            } else {
                "false"
            }
        ));
        let family = self.arch.meson_cpu_family();
        let endian = if self.arch.is_little_endian() {
            "little"
        } else {
            "big"
        };
        s.push_str(&format!(
            "\n[host_machine]\nsystem = 'linux'\ncpu_family = '{family}'\ncpu = '{}'\nendian = '{endian}'\n",
            self.arch.name()
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_file_for_a_big_endian_target() {
        let cc = vec!["/w/ccbin/cc".to_string()];
        let cxx = vec!["/w/ccbin/c++".to_string()];
        let f = CrossFile {
            arch: Arch::S390x,
            root: Path::new("/c/targets/debian-bookworm-s390x"),
            cc: &cc,
            cxx: &cxx,
            ar: Some("/usr/bin/s390x-linux-gnu-gcc-ar"),
            strip: None,
            exe_wrapper: Some(vec![
                "/c/qemu/qemu-s390x-static".into(),
                "-L".into(),
                "/c/t's".into(),
            ]),
        }
        .render();
        assert!(f.contains("c = ['/w/ccbin/cc']\n"), "{f}");
        assert!(
            f.contains("exe_wrapper = ['/c/qemu/qemu-s390x-static', '-L', '/c/t\\'s']\n"),
            "{f}"
        );
        assert!(f.contains("pkg_config_libdir = ['/c/targets/debian-bookworm-s390x/usr/lib/s390x-linux-gnu/pkgconfig', "), "{f}");
        assert!(
            f.contains("cpu_family = 's390x'\ncpu = 's390x'\nendian = 'big'\n"),
            "{f}"
        );
        assert!(f.contains("needs_exe_wrapper = true"), "{f}");
    }
}
