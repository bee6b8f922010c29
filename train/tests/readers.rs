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
    let st = parse_svc_txt(&svc_text(&[(0, 0, 1), (10, 5, 1), (20, 5, 0), (30, 0, 1), (40, 2, 1)]))
        .unwrap();
    assert_eq!(st.len(), 2);
    assert_eq!(st[0].len(), 2);
    assert_eq!((st[0][1].x, st[0][1].y), (10.0, -5.0));
    assert_eq!(st[0][1].p, Some(400.0));
    assert!(parse_svc_txt("3\n0 0 0 1 0 0 0\n").is_err(), "a wrong point count is an error");
    assert!(parse_svc_txt("1\n0 zero 0 1 0 0 0\n").is_err());
}

#[test]
fn omniglot_strokes_parse() {
    let st =
        parse_omniglot_strokes("START\n1.0,-2.0,0\n3.0,-4.0,10\nBREAK\n5,-6,20\nBREAK\n").unwrap();
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
    std::fs::File::create(dir.join("bob/forged/f.txt"))
        .unwrap()
        .write_all(svc_text(&[(0, 0, 1), (5, 5, 1)]).as_bytes())
        .unwrap();
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
fn cross_device_identities_are_a_writer_and_a_name_across_devices() {
    let dir = tempdir("devices");
    for w in ["001", "002", "003"] {
        std::fs::create_dir_all(dir.join(w)).unwrap();
        for d in ["paper", "ipad", "phone-hand", "phone-table"] {
            for k in [1, 2] {
                write_png(&dir.join(w).join(format!("{d}-{k:02}.png")), 24, 12, (3, 3, 20, 9));
            }
        }
    }
    assert_eq!(detect_layout(&dir).unwrap(), Layout::CrossDevice);
    let ids = read_identities(&dir, "cross/").unwrap();
    assert_eq!(
        ids.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        [
            "cross/001/01",
            "cross/001/02",
            "cross/002/01",
            "cross/002/02",
            "cross/003/01",
            "cross/003/02"
        ]
    );
    assert!(ids.iter().all(|i| i.split_key == format!("cross/{}", &i.name[6..9])
        && i.group == format!("cross/{}", &i.name[10..])));
    let mut devices: Vec<_> = ids[0].samples.iter().map(|s| s.device.clone().unwrap()).collect();
    devices.sort();
    assert_eq!(devices, ["ipad", "paper", "phone-hand", "phone-table"]);
    assert!(ids.iter().all(|i| i.samples.iter().all(|s| !s.forged)));
    // Impostors: other writers' signatures of the same name, and only of it.
    let with = with_same_text_impostors(ids);
    for id in &with {
        let forged: Vec<_> = id.forged().collect();
        assert_eq!(forged.len(), 2 * 4, "{}: both other writers, every device", id.name);
        let text = &id.name[10..];
        assert!(forged
            .iter()
            .all(|s| s.origin.contains(&format!("-{text}.png"))
                && !s.origin.contains(&id.name[6..9])));
    }
    // Within a split: a writer's names stay together, and no impostor crosses sides.
    let (t, v) = read_split(&dir, "cross/", 0.34, 7, |ids| ids).unwrap();
    let val_writers: Vec<&str> = v.iter().map(|i| i.split_key.as_str()).collect();
    assert!(t.iter().all(|i| !val_writers.contains(&i.split_key.as_str())));
    assert!(v.iter().all(|i| i
        .forged()
        .all(|s| val_writers.iter().any(|w| s.origin.contains(&format!("/{}/", &w[6..]))))));
    // Names that are not `<device>-<number>` carry none.
    for name in ["1.png", "01.png", "U1S2.TXT", "-3.png", "ipad-.png", "ipad-x1.png", "a_b-2.png"] {
        assert_eq!(device_of(Path::new(name)), None, "{name}");
    }
    assert_eq!(device_of(Path::new("x/Phone-Hand-07.png")).as_deref(), Some("phone-hand"));
}

/// The whole Omniglot background zip beside a small set: every character once, and the
/// small set's strokes joined to the whole set's pictures of the same drawings.
#[test]
fn omniglot_whole_background_and_small_sets_read_once() {
    let dir = tempdir("omniglot");
    let png = |x0: u32| {
        let mut bytes = std::io::Cursor::new(vec![]);
        image::GrayImage::from_fn(20, 20, |x, y| {
            image::Luma([if x >= x0 && x < x0 + 5 && y > 3 && y < 15 { 0 } else { 255 }])
        })
        .write_to(&mut bytes, image::ImageFormat::Png)
        .unwrap();
        bytes.into_inner()
    };
    let write_zip = |name: &str, files: &[(String, Vec<u8>)]| {
        let mut z = zip::ZipWriter::new(std::fs::File::create(dir.join(name)).unwrap());
        for (path, bytes) in files {
            z.start_file(path.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
    };
    let mut whole = vec![];
    for (alphabet, id) in [("Greek", "0394"), ("Korean", "0701")] {
        for c in 1..=2 {
            for n in 1..=3 {
                whole.push((
                    format!("images_background/{alphabet}/character{c:02}/{id}{c}_{n:02}.png"),
                    png(n),
                ));
            }
        }
    }
    write_zip("images_background.zip", &whole);
    let small: Vec<_> = whole
        .iter()
        .filter(|(p, _)| p.contains("Greek"))
        .map(|(p, b)| (p.replace("images_background/", "images_background_small1/"), b.clone()))
        .collect();
    write_zip("images_background_small1.zip", &small);
    let strokes: Vec<_> = small
        .iter()
        .map(|(p, _)| {
            (
                p.replace("images_background_small1/", "strokes_background_small1/")
                    .replace(".png", ".txt"),
                b"START\n1,-2,0\n5,-9,10\nBREAK\n".to_vec(),
            )
        })
        .collect();
    write_zip("strokes_background_small1.zip", &strokes);
    assert_eq!(detect_layout(&dir).unwrap(), Layout::Omniglot);
    let ids = read_identities(&dir, "omniglot/").unwrap();
    assert_eq!(ids.len(), 4, "each character once");
    assert!(ids
        .iter()
        .all(|i| i.samples.len() == 3 && i.samples.iter().all(|s| s.image.is_some())));
    let greek: Vec<_> = ids.iter().filter(|i| i.group == "omniglot/Greek").collect();
    assert_eq!(greek.len(), 2);
    assert!(
        greek.iter().all(|i| i.samples.iter().all(|s| s.strokes.is_some())),
        "the small set's strokes join the whole set's pictures"
    );
    assert!(ids
        .iter()
        .filter(|i| i.group == "omniglot/Korean")
        .all(|i| i.samples.iter().all(|s| s.strokes.is_none())));
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
        std::fs::write(
            dir.join(run).join("class_labels.txt"),
            format!("{run}/test/item01.png {run}/training/class02.png\n"),
        )
        .unwrap();
    }
    assert_eq!(detect_layout(&dir).unwrap(), Layout::OneShotRuns);
    let runs = read_oneshot_runs(&dir).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].support.len(), 2);
    assert_eq!(runs[0].queries[0].1, 1);
    std::fs::write(
        dir.join("run02/class_labels.txt"),
        "run02/test/item01.png run02/training/class09.png\n",
    )
    .unwrap();
    assert!(read_oneshot_runs(&dir).is_err(), "a label naming a missing class is an error");
}

#[test]
fn split_is_by_identity_and_by_alphabet() {
    let mk = |name: &str, key: &str| Identity {
        name: name.into(),
        split_key: key.into(),
        group: key.into(),
        samples: vec![],
        draw_weight: 1.0,
    };
    let ids: Vec<Identity> =
        (0..40).map(|i| mk(&format!("a{}/c{i}", i % 8), &format!("a{}", i % 8))).collect();
    let (t, v) = split_by_identity(ids.clone(), 0.25, 7);
    assert_eq!((t.len(), v.len()), (30, 10), "2 of 8 alphabets held out, 5 characters each");
    for x in &v {
        assert!(t.iter().all(|y| y.split_key != x.split_key), "an alphabet is in both splits");
    }
    let (_, v2) = split_by_identity(ids, 0.25, 7);
    assert_eq!(
        v.iter().map(|i| &i.name).collect::<Vec<_>>(),
        v2.iter().map(|i| &i.name).collect::<Vec<_>>(),
        "seeded: same split every time"
    );
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
    assert_eq!(omni.len(), 964, "the whole background set, the small sets' drawings read once");
    assert!(omni
        .iter()
        .all(|i| i.samples.len() == 20 && i.samples.iter().all(|s| s.image.is_some())));
    let with_strokes =
        omni.iter().filter(|i| i.samples.iter().all(|s| s.strokes.is_some())).count();
    assert_eq!(with_strokes, 242, "strokes for the small sets' characters only");
    let mut alphabets: Vec<&str> = omni.iter().map(|i| i.group.as_str()).collect();
    alphabets.dedup();
    assert_eq!(alphabets.len(), 30);
    let cedar = read_identities(&root.join("cedar"), "cedar/").unwrap();
    assert_eq!(cedar.len(), 40);
    assert!(cedar.iter().all(|i| i.genuine().count() == 24 && i.forged().count() == 24));
    let bengali = read_identities(&root.join("bhsig260-bengali"), "bengali/").unwrap();
    assert_eq!(bengali.len(), 75);
    assert!(bengali.iter().all(|i| i.genuine().count() == 24 && i.forged().count() == 30));
    let devices = read_identities(&root.join("cross-device-signatures"), "cross/").unwrap();
    assert_eq!(devices.len(), 750, "75 writers x 10 names");
    for id in &devices {
        assert_eq!((id.genuine().count(), id.forged().count()), (4, 0), "{}", id.name);
        let mut on: Vec<_> = id.samples.iter().map(|s| s.device.as_deref().unwrap()).collect();
        on.sort();
        assert_eq!(on, ["ipad", "paper", "phone-hand", "phone-table"], "{}", id.name);
    }
    let att = read_identities(&root.join("att_faces"), "att/").unwrap();
    assert_eq!(att.len(), 30);
    assert!(att
        .iter()
        .all(|i| i.samples.len() == 10 && i.samples[0].image.as_ref().unwrap().width == 92));
    let yale = read_identities(&root.join("yaleb"), "yale/").unwrap();
    assert_eq!(yale.len(), 28);
}
