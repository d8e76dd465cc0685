//! A real OBS Studio (Debian's obs-studio 29) as the publisher, headless under `xvfb-run -a`
//! with software GL, from a profile prepared in a temporary HOME. The profile that works here
//! (checked by hand first):
//! - `global.ini`: `FirstRun=true` (no auto-configuration wizard), the profile and scene
//!   collection selected;
//! - `basic.ini`: Simple output, x264 `ultrafast` with `keyint=60` (2 s at 30 fps, Simple mode
//!   otherwise leaves x264 at 250), 640x360 at 30 fps, reconnect on with a 2 s retry delay;
//! - `service.json`: `rtmp_custom` with the server and the key;
//! - a scene collection with one looping `ffmpeg_source` of a 10 s clip made by ffmpeg.
//!
//! OBS is started as `obs --multi --disable-updater --profile … --collection … --scene …
//! --startstreaming` and stopped with SIGINT, by the PID its wrapper shell recorded.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::wait_for;

/// The profile, scene collection and scene names.
const NAME: &str = "ferrocast";

/// A 640x360 test pattern with a tone, H.264/AAC in MP4, made once per test run.
fn source_clip() -> &'static Path {
    static CLIP: OnceLock<PathBuf> = OnceLock::new();
    CLIP.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("obs-clip-{}.mp4", std::process::id()));
        #[rustfmt::skip]
        let status = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y",
                "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
                "-t", "10", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                "-g", "60", "-c:a", "aac", "-b:a", "128k"])
            .arg(&path)
            .status()
            .expect("run ffmpeg");
        assert!(status.success(), "encoding the OBS source clip");
        path
    })
}

/// Writes the OBS configuration for `server` and `key` under `home`.
fn write_profile(home: &Path, server: &str, key: &str) {
    let config = home.join(".config/obs-studio");
    let profile = config.join("basic/profiles").join(NAME);
    let scenes = config.join("basic/scenes");
    std::fs::create_dir_all(&profile).expect("profile dir");
    std::fs::create_dir_all(&scenes).expect("scenes dir");
    let global = format!(
        "[General]\nFirstRun=true\nLastVersion=486539266\nEnableAutoUpdates=false\n\
         ConfirmOnExit=false\n\n[BasicWindow]\nWarnBeforeStartingStream=false\n\
         WarnBeforeStoppingStream=false\nSysTrayEnabled=false\n\n[Basic]\nProfile={NAME}\n\
         ProfileDir={NAME}\nSceneCollection={NAME}\nSceneCollectionFile={NAME}\n"
    );
    std::fs::write(config.join("global.ini"), global).expect("global.ini");
    let basic = format!(
        "[General]\nName={NAME}\n\n[Output]\nMode=Simple\nReconnect=true\nRetryDelay=2\n\
         MaxRetries=20\n\n[SimpleOutput]\nStreamEncoder=x264\nVBitrate=1500\nABitrate=128\n\
         UseAdvanced=true\nPreset=ultrafast\nx264Settings=keyint=60 min-keyint=60 scenecut=0\n\n\
         [Video]\nBaseCX=640\nBaseCY=360\nOutputCX=640\nOutputCY=360\nFPSType=0\nFPSCommon=30\n\n\
         [Audio]\nSampleRate=48000\nChannelSetup=Stereo\n"
    );
    std::fs::write(profile.join("basic.ini"), basic).expect("basic.ini");
    let service = serde_json::json!({
        "type": "rtmp_custom",
        "settings": {"server": server, "key": key, "use_auth": false, "bwtest": false},
    });
    std::fs::write(profile.join("service.json"), service.to_string()).expect("service.json");
    let item = serde_json::json!({
        "name": "clip", "id": 1, "visible": true, "locked": false, "rot": 0.0,
        "pos": {"x": 0.0, "y": 0.0}, "scale": {"x": 1.0, "y": 1.0}, "align": 5,
        "bounds_type": 0, "bounds_align": 0, "bounds": {"x": 0.0, "y": 0.0},
    });
    let collection = serde_json::json!({
        "name": NAME, "current_scene": NAME, "current_program_scene": NAME,
        "scene_order": [{"name": NAME}],
        "sources": [
            {"id": "scene", "versioned_id": "scene", "name": NAME,
             "settings": {"id_counter": 1, "custom_size": false, "items": [item]}},
            {"id": "ffmpeg_source", "versioned_id": "ffmpeg_source", "name": "clip",
             "settings": {"is_local_file": true, "local_file": source_clip(), "looping": true,
                          "restart_on_activate": false, "hw_decode": false}},
        ],
    });
    std::fs::write(scenes.join(format!("{NAME}.json")), collection.to_string())
        .expect("scene collection");
}

/// A running OBS, streaming; stopped with SIGINT (and killed if it does not exit) on drop.
pub struct Obs {
    wrapper: Child,
    pid: String,
    home: PathBuf,
}

impl Obs {
    /// Starts OBS streaming to `server` (`rtmp://…/live`) with `key`, in a fresh HOME.
    pub fn start(server: &str, key: &str) -> Self {
        let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "obs-home-{}-{}",
            std::process::id(),
            next_home_number()
        ));
        let _ = std::fs::remove_dir_all(&home);
        write_profile(&home, server, key);
        let log = std::fs::File::create(home.join("obs.log")).expect("obs log");
        let pid_file = home.join("obs.pid");
        let script = format!(
            "echo $$ > '{}'; exec obs --multi --disable-updater --profile {NAME} \
             --collection {NAME} --scene {NAME} --startstreaming",
            pid_file.display()
        );
        let found = Command::new("which").arg("obs").output();
        assert!(
            found.is_ok_and(|out| out.status.success()),
            "obs is not installed: run scripts/install-test-deps.sh"
        );
        let wrapper = Command::new("xvfb-run")
            .args(["-a", "sh", "-c", &script])
            .env("HOME", &home)
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start xvfb-run obs");
        let pid = wait_for("OBS to start", Duration::from_secs(30), || {
            let text = std::fs::read_to_string(&pid_file).ok()?;
            let pid = text.trim().to_owned();
            (!pid.is_empty()).then_some(pid)
        });
        Self { wrapper, pid, home }
    }

    /// Everything OBS logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("obs.log")).unwrap_or_default()
    }
}

impl Drop for Obs {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-INT", &self.pid]).status();
        let exited = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            self.wrapper.try_wait().ok().flatten().is_some()
        });
        if !exited {
            let _ = Command::new("kill").args(["-KILL", &self.pid]).status();
            let _ = self.wrapper.wait();
        }
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// A per-call number so two OBS in one test process get different homes.
fn next_home_number() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
