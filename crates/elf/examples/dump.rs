fn main() {
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).expect("read");
        let _ = manywheel_elf::parse(&data);
        let t = std::time::Instant::now();
        match manywheel_elf::parse(&data) {
            Ok(f) => {
                let el = t.elapsed();
                let mut f2 = f.clone();
                f2.dynamic_symbols.truncate(8);
                println!(
                    "{path}: {} symbols in {el:?}\n{f2:#?}",
                    f.dynamic_symbols.len()
                );
            }
            Err(e) => println!("{path}: error {e}"),
        }
    }
}
