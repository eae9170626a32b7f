//! `lathe catalog` under a real one-node Slurm cluster (Debian's slurm-wlm and munge),
//! started by the test as root: `sbatch --array=1-4` with `--shard auto` matches a
//! single-process run byte for byte; a task killed by `scancel` and resubmitted finishes
//! only what was left; a corrupt track fails only its album with exit code 3; a bad
//! template is refused by every task before any work. Skips with a notice when not root
//! or Slurm is missing; `LATHE_REQUIRE_SLURM=1` makes that a failure. Every daemon is
//! stopped by its PID when the test ends, failed or not.

mod catalog_support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use catalog_support::{fixture, lathe, manifest_lines, text, tree};

const DAEMONS: [&str; 5] = ["munged", "slurmctld", "slurmd", "sbatch", "scancel"];

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A free TCP port on localhost (bound and released; good enough for a test).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// munged, slurmctld and slurmd as children of the test, all stopped on drop.
struct Cluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
    children: Vec<(&'static str, Child)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The daemons in reverse order of start, each by its own PID.
        while let Some((_, mut child)) = self.children.pop() {
            let pid = child.id() as i32;
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Cluster {
    fn start() -> Option<Cluster> {
        let required = std::env::var("LATHE_REQUIRE_SLURM").as_deref() == Ok("1");
        let missing: Vec<&str> = DAEMONS.into_iter().filter(|d| which(d).is_none()).collect();
        let root = unsafe { libc::geteuid() } == 0;
        if !missing.is_empty() || !root {
            let why = if root {
                format!(
                    "{} not found (install slurm-wlm and munge)",
                    missing.join(", ")
                )
            } else {
                "the test must run as root to start slurmd".to_string()
            };
            assert!(!required, "LATHE_REQUIRE_SLURM=1 but {why}");
            eprintln!("notice: skipping the Slurm catalogue test: {why}");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path().to_path_buf();
        for sub in ["state", "spool", "munge", "log"] {
            std::fs::create_dir_all(d.join(sub)).expect("folder");
        }
        let key: Vec<u8> = (0..1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(d.join("munge/munge.key"), key).expect("munge key");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            d.join("munge/munge.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("key mode");
        let socket = d.join("munge/munge.sock");
        let conf = d.join("slurm.conf");
        let (ctld_port, slurmd_port) = (free_port(), free_port());
        let p = |s: &str| d.join(s).display().to_string();
        std::fs::write(
            &conf,
            format!(
                "ClusterName=lathetest\nSlurmctldHost=localhost\nSlurmUser=root\nSlurmdUser=root\n\
                 AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket={}\n\
                 ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
                 SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\nMpiDefault=none\n\
                 StateSaveLocation={}\nSlurmdSpoolDir={}\nSlurmctldPidFile={}\nSlurmdPidFile={}\n\
                 SlurmctldPort={ctld_port}\nSlurmdPort={slurmd_port}\n\
                 SlurmctldLogFile={}\nSlurmdLogFile={}\nReturnToService=2\n\
                 JobCompType=jobcomp/none\nAccountingStorageType=accounting_storage/none\n\
                 NodeName=localhost CPUs=2 State=UNKNOWN\n\
                 PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
                socket.display(),
                p("state"),
                p("spool"),
                p("slurmctld.pid"),
                p("slurmd.pid"),
                p("log/slurmctld.log"),
                p("log/slurmd.log"),
            ),
        )
        .expect("slurm.conf");
        let mut cluster = Cluster {
            dir,
            conf: conf.clone(),
            children: Vec::new(),
        };
        let log = |name: &str| {
            std::fs::File::create(cluster.dir.path().join("log").join(name)).expect("log file")
        };
        let munged = Command::new(which("munged").unwrap())
            .args(["-F", "-f"])
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--key-file={}", p("munge/munge.key")))
            .arg(format!("--pid-file={}", p("munge/munged.pid")))
            .arg(format!("--seed-file={}", p("munge/seed")))
            .arg(format!("--log-file={}", p("munge/munged.log")))
            .stdout(log("munged.out"))
            .stderr(log("munged.err"))
            .spawn()
            .expect("munged starts");
        cluster.children.push(("munged", munged));
        wait_for(|| socket.exists(), "the munge socket");
        for daemon in ["slurmctld", "slurmd"] {
            let child = Command::new(which(daemon).unwrap())
                .arg("-D")
                .arg("-f")
                .arg(&conf)
                .env("SLURM_CONF", &conf)
                .stdout(log(&format!("{daemon}.out")))
                .stderr(log(&format!("{daemon}.err")))
                .spawn()
                .expect("slurm daemon starts");
            cluster.children.push((daemon, child));
        }
        wait_for(
            || {
                let out = cluster.slurm("sinfo", &["-h", "-o", "%t"]);
                String::from_utf8_lossy(&out.stdout).trim() == "idle"
            },
            "the node to be idle",
        );
        Some(cluster)
    }

    fn slurm(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(tool)
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .output()
            .expect("slurm client runs")
    }

    /// Submits `script` as an array job; waits for it to end when `wait`.
    fn sbatch(&self, dir: &Path, array: &str, script: &str, wait: bool) -> String {
        let path = dir.join(format!("job-{}.sh", array.replace(['-', ','], "_")));
        std::fs::write(&path, script).expect("job script");
        let mut args = vec!["--parsable", "--array", array, "-o"];
        let out_pattern = dir.join("slurm-%A-%a.out").display().to_string();
        args.push(&out_pattern);
        if wait {
            args.push("--wait");
        }
        let p = path.display().to_string();
        args.push(&p);
        let out = self.slurm("sbatch", &args);
        assert!(
            out.status.success() || wait,
            "sbatch failed: {}\n{}",
            text(&out),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for name in ["slurmctld.log", "slurmd.log"] {
            let t =
                std::fs::read_to_string(self.dir.path().join("log").join(name)).unwrap_or_default();
            let tail: Vec<&str> = t.lines().rev().take(20).collect();
            all.push_str(&format!(
                "--- {name}\n{}\n",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
        all
    }

    fn wait_until_gone(&self, job: &str) {
        wait_for(
            || {
                let out = self.slurm("squeue", &["-h", "-j", job]);
                String::from_utf8_lossy(&out.stdout).trim().is_empty()
            },
            "the job to leave the queue",
        );
    }
}

fn wait_for(mut ready: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A job script: `lathe catalog run ... --shard auto` in `dir`, its exit code kept in
/// `rc-<tag>-<task>`.
fn script(dir: &Path, tag: &str, args: &str) -> String {
    format!(
        "#!/bin/bash\ncd '{}'\nexport SOURCE_DATE_EPOCH=1700000000\n'{}' catalog run {args} --shard auto --jobs 1\necho $? > rc-{tag}-$SLURM_ARRAY_TASK_ID\n",
        dir.display(),
        env!("CARGO_BIN_EXE_lathe"),
    )
}

fn codes(dir: &Path, tag: &str, tasks: usize) -> Vec<String> {
    (1..=tasks)
        .map(|t| {
            std::fs::read_to_string(dir.join(format!("rc-{tag}-{t}")))
                .unwrap_or_else(|_| "missing".into())
                .trim()
                .to_string()
        })
        .collect()
}

/// "N mastered" of the summary lines, summed over the task outputs of one job.
fn mastered(dir: &Path, job: &str) -> usize {
    let prefix = format!("slurm-{job}-");
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .flat_map(|e| {
            let t = std::fs::read_to_string(e.path()).unwrap_or_default();
            t.lines()
                .filter(|l| l.contains(" mastered, "))
                .filter_map(|l| {
                    l.split(" mastered")
                        .next()?
                        .rsplit(' ')
                        .next()?
                        .parse::<usize>()
                        .ok()
                })
                .collect::<Vec<_>>()
        })
        .sum()
}

#[test]
fn catalogue_array_jobs_on_a_real_slurm_cluster() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let work = tempfile::tempdir().expect("work dir");
    let dir = work.path();
    fixture(dir, 6, 2);

    // 1. Four array tasks from 1, against one process.
    let one = lathe(
        dir,
        &[
            "catalog",
            "run",
            "master.ron",
            "catalogue.csv",
            "-o",
            "one",
            "--preset",
            "streaming",
        ],
        &[],
    );
    assert_eq!(one.status.code(), Some(0), "{}", text(&one));
    let run_args = "master.ron catalogue.csv -o sharded --preset streaming --quiet";
    cluster.sbatch(dir, "1-4", &script(dir, "a", run_args), true);
    assert_eq!(
        codes(dir, "a", 4),
        ["0", "0", "0", "0"],
        "{}",
        cluster.logs()
    );
    let a = tree(&dir.join("one"));
    let b = tree(&dir.join("sharded"));
    assert_eq!(a.len(), 12);
    assert_eq!(
        a, b,
        "array tasks and one process must write the same bytes"
    );
    let mut units: Vec<String> = manifest_lines(&dir.join("sharded"))
        .iter()
        .map(|l| l["unit"].as_str().unwrap().to_string())
        .collect();
    units.sort();
    let n = units.len();
    units.dedup();
    assert_eq!(
        (n, units.len()),
        (6, 6),
        "every unit exactly once: {units:?}"
    );
    let manifests = std::fs::read_dir(dir.join("sharded/.lathe-catalog"))
        .unwrap()
        .count();
    assert!(
        manifests >= 2,
        "units spread over the tasks ({manifests} manifests)"
    );
    let merge = lathe(
        dir,
        &[
            "catalog",
            "merge",
            "catalogue.csv",
            "-o",
            "sharded",
            "--json",
            "merged.json",
        ],
        &[],
    );
    assert_eq!(merge.status.code(), Some(0), "{}", text(&merge));

    // 2. A task cancelled mid-way, resubmitted as two tasks: only what was left.
    let slow = "master.ron catalogue.csv -o killed --preset streaming --mode track";
    let job = cluster.sbatch(dir, "1-1", &script(dir, "k", slow), false);
    let deadline = Instant::now() + Duration::from_secs(120);
    while manifest_lines(&dir.join("killed")).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the task never finished a unit\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let cancel = cluster.slurm("scancel", &["--signal=KILL", &job]);
    assert!(cancel.status.success(), "{}", text(&cancel));
    cluster.wait_until_gone(&job);
    let done_before = manifest_lines(&dir.join("killed")).len();
    assert!(
        done_before < 12,
        "the task finished before it was cancelled"
    );
    let job2 = cluster.sbatch(dir, "1-2", &script(dir, "r", slow), true);
    assert_eq!(codes(dir, "r", 2), ["0", "0"], "{}", cluster.logs());
    assert_eq!(mastered(dir, &job2), 12 - done_before, "only what was left");
    assert_eq!(tree(&dir.join("killed")).len(), 12);
    let status = lathe(
        dir,
        &[
            "catalog",
            "status",
            "catalogue.csv",
            "-o",
            "killed",
            "--mode",
            "track",
        ],
        &[],
    );
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));

    // 3. A corrupt track: its album fails with the reason, the others are delivered.
    let csv = std::fs::read_to_string(dir.join("catalogue.csv")).unwrap();
    std::fs::write(dir.join("bad.wav"), b"RIFF\x10\0\0\0WAVEjunkjunk").unwrap();
    std::fs::write(
        dir.join("corrupt.csv"),
        csv.replace("in/artist3/02.wav", "bad.wav"),
    )
    .unwrap();
    let corrupt = "master.ron corrupt.csv -o corrupt --preset streaming --quiet";
    cluster.sbatch(dir, "1-4", &script(dir, "c", corrupt), true);
    let mut rcs = codes(dir, "c", 4);
    rcs.sort();
    assert_eq!(rcs, ["0", "0", "0", "3"], "{}", cluster.logs());
    let delivered = tree(&dir.join("corrupt"));
    assert_eq!(delivered.len(), 10);
    assert!(!delivered.keys().any(|k| k.starts_with("Artist 3/")));
    let failed: Vec<_> = manifest_lines(&dir.join("corrupt"))
        .into_iter()
        .filter(|l| l["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["error"].as_str().unwrap().contains("bad.wav"),
        "{:?}",
        failed[0]
    );
    let status = lathe(
        dir,
        &["catalog", "status", "corrupt.csv", "-o", "corrupt"],
        &[],
    );
    assert_eq!(status.status.code(), Some(3), "{}", text(&status));

    // 4. Colliding outputs and unsafe templates: every task refuses before any work.
    let collide = "master.ron catalogue.csv -o collide --template '{album}/{track:02}.{ext}'";
    cluster.sbatch(dir, "1-2", &script(dir, "x", collide), true);
    let unsafe_t = "master.ron catalogue.csv -o collide --template '../{title}.{ext}'";
    cluster.sbatch(dir, "1-2", &script(dir, "u", unsafe_t), true);
    assert_eq!(codes(dir, "x", 2), ["2", "2"]);
    assert_eq!(codes(dir, "u", 2), ["2", "2"]);
    assert!(!dir.join("collide").exists(), "nothing written");
}
