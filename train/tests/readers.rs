//! Readers on fixtures generated here, and on ../shared/data when it is present.

use siamese_train::data::*;
use std::io::Write;
use std::path::Path;

fn write_png(path: &Path, w: u32, h: u32, dark_box: (u32, u32, u32, u32)) {
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        let inside = x >= dark_box.0 && x < dark_box.2 && y >= dark_box.1 && y < dark_box.3;
        image::Luma([if inside { 0 } else { 255 }])
    });
    img.save(path).unwrap();
}

fn svc_text(points: &[(i32, i32, i32)]) -> String {
    let mut s = format!("{}\n", points.len());
    for (k, (x, y, b)) in points.iter().enumerate() {
        s += &format!("{x} {y} {} {b} 1500 700 400\n", k * 10);
    }
    s
}

#[test]
fn svc_text_splits_strokes_at_pen_up_and_flips_y() {
    let st = parse_svc_txt(&svc_text(&[(0, 0, 1), (10, 5, 1), (20, 5, 0), (30, 0, 1), (40, 2, 1)])).unwrap();
    assert_eq!(st.len(), 2);
    assert_eq!(st[0].len(), 2);
    assert_eq!((st[0][1].x, st[0][1].y), (10.0, -5.0));
    assert_eq!(st[0][1].p, Some(400.0));
    assert!(parse_svc_txt("3\n0 0 0 1 0 0 0\n").is_err(), "a wrong point count is an error");
    assert!(parse_svc_txt("1\n0 zero 0 1 0 0 0\n").is_err());
}

#[test]
fn omniglot_strokes_parse() {
    let st = parse_omniglot_strokes("START\n1.0,-2.0,0\n3.0,-4.0,10\nBREAK\n5,-6,20\nBREAK\n").unwrap();
    assert_eq!(st.len(), 2);
    assert_eq!((st[0][1].x, st[0][1].y), (3.0, 4.0));
}

#[test]
fn identity_folders_with_and_without_forgeries() {
    let dir = tempdir("ids");
    std::fs::create_dir_all(dir.join("alice")).unwrap();
    write_png(&dir.join("alice/1.png"), 20, 10, (2, 2, 8, 8));
    write_png(&dir.join("alice/2.png"), 20, 10, (3, 2, 9, 8));
    std::fs::create_dir_all(dir.join("bob/genuine")).unwrap();
    std::fs::create_dir_all(dir.join("bob/forged")).unwrap();
    write_png(&dir.join("bob/genuine/a.png"), 20, 10, (2, 2, 8, 8));
    std::fs::File::create(dir.join("bob/forged/f.txt")).unwrap().write_all(svc_text(&[(0, 0, 1), (5, 5, 1)]).as_bytes()).unwrap();
    std::fs::write(dir.join("bob/genuine/notes.md"), "ignored").unwrap();
    assert_eq!(detect_layout(&dir).unwrap(), Layout::IdentityFolders);
    let ids = read_identities(&dir, "x/").unwrap();
    assert_eq!(ids.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["x/alice", "x/bob"]);
    assert_eq!(ids[0].samples.len(), 2);
    assert_eq!(ids[1].genuine().count(), 1);
    let forged: Vec<_> = ids[1].forged().collect();
    assert_eq!(forged.len(), 1);
    assert!(forged[0].strokes.is_some() && forged[0].image.is_none());
}

#[test]
fn svc2004_naming_marks_forgeries() {
    let dir = tempdir("svc");
    for s in [1, 2, 21] {
        std::fs::write(dir.join(format!("U3S{s}.TXT")), svc_text(&[(0, 0, 1), (5, 5, 1)])).unwrap();
    }
    assert_eq!(detect_layout(&dir).unwrap(), Layout::Svc2004);
    let ids = read_identities(&dir, "svc/").unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].name, "svc/U3");
    assert_eq!((ids[0].genuine().count(), ids[0].forged().count()), (2, 1));
}

#[test]
fn oneshot_runs_layout() {
    let dir = tempdir("runs");
    for run in ["run01", "run02"] {
        std::fs::create_dir_all(dir.join(run).join("training")).unwrap();
        std::fs::create_dir_all(dir.join(run).join("test")).unwrap();
        write_png(&dir.join(run).join("training/class01.png"), 16, 16, (2, 2, 6, 6));
        write_png(&dir.join(run).join("training/class02.png"), 16, 16, (8, 8, 14, 14));
        write_png(&dir.join(run).join("test/item01.png"), 16, 16, (8, 8, 14, 14));
        std::fs::write(dir.join(run).join("class_labels.txt"), format!("{run}/test/item01.png {run}/training/class02.png\n")).unwrap();
    }
    assert_eq!(detect_layout(&dir).unwrap(), Layout::OneShotRuns);
    let runs = read_oneshot_runs(&dir).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].support.len(), 2);
    assert_eq!(runs[0].queries[0].1, 1);
    std::fs::write(dir.join("run02/class_labels.txt"), "run02/test/item01.png run02/training/class09.png\n").unwrap();
    assert!(read_oneshot_runs(&dir).is_err(), "a label naming a missing class is an error");
}

#[test]
fn split_is_by_identity_and_by_alphabet() {
    let mk = |name: &str, key: &str| Identity { name: name.into(), split_key: key.into(), group: key.into(), samples: vec![], draw_weight: 1.0 };
    let ids: Vec<Identity> = (0..40).map(|i| mk(&format!("a{}/c{i}", i % 8), &format!("a{}", i % 8))).collect();
    let (t, v) = split_by_identity(ids.clone(), 0.25, 7);
    assert_eq!((t.len(), v.len()), (30, 10), "2 of 8 alphabets held out, 5 characters each");
    for x in &v {
        assert!(t.iter().all(|y| y.split_key != x.split_key), "an alphabet is in both splits");
    }
    let (_, v2) = split_by_identity(ids, 0.25, 7);
    assert_eq!(v.iter().map(|i| &i.name).collect::<Vec<_>>(), v2.iter().map(|i| &i.name).collect::<Vec<_>>(), "seeded: same split every time");
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("siamese-readers-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The real datasets, when ../shared/data is present.
#[test]
fn shared_datasets_read_as_documented() {
    let Some(root) = shared_data_dir() else {
        eprintln!("SKIPPED shared_datasets_read_as_documented: ../shared/data is absent");
        return;
    };
    let svc = read_identities(&root.join("svc2004/task2"), "svc/").unwrap();
    assert_eq!(svc.len(), 40);
    assert!(svc.iter().all(|i| i.genuine().count() == 20 && i.forged().count() == 20));
    let sig = read_identities(&root.join("sigcomp2011"), "sig/").unwrap();
    assert_eq!(sig.len(), 48);
    assert!(sig.iter().any(|i| i.forged().count() > 0));
    let omni = read_identities(&root.join("omniglot"), "omni/").unwrap();
    assert_eq!(omni.len(), 242, "242 distinct characters (Greek and Latin read once)");
    assert!(omni.iter().all(|i| i.samples.len() == 20 && i.samples.iter().all(|s| s.image.is_some() && s.strokes.is_some())));
    let mut alphabets: Vec<&str> = omni.iter().map(|i| i.group.as_str()).collect();
    alphabets.dedup();
    assert_eq!(alphabets.len(), 8);
    let att = read_identities(&root.join("att_faces"), "att/").unwrap();
    assert_eq!(att.len(), 30);
    assert!(att.iter().all(|i| i.samples.len() == 10 && i.samples[0].image.as_ref().unwrap().width == 92));
    let yale = read_identities(&root.join("yaleb"), "yale/").unwrap();
    assert_eq!(yale.len(), 28);
}
