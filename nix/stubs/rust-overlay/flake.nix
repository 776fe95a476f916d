{
  description = "Offline stub of oxalica/rust-overlay";
  outputs = { self }: {
    overlays.default = final: _prev: {
      rust-bin.fromRustupToolchainFile = file:
        assert builtins.pathExists file || throw "rust-overlay stub: ${toString file} does not exist (untracked?)";
        let t = (builtins.fromTOML (builtins.readFile file)).toolchain;
        in assert builtins.isString t.channel; final.mkDrv "rust-${t.channel}";
    };
  };
}
