fn main() -> std::process::ExitCode {
    hwc_ai_runtime::daemon::main::<hwc_ai_assistant::Assistant>()
}
