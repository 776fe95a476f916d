{
  description = "Offline stub of ipetkov/crane: mkLib with the functions flake.nix uses";
  outputs = { self }: {
    mkLib = pkgs:
      let
        inherit (builtins) all attrNames concatStringsSep elem filter isAttrs isFunction isPath isString;
        isDrv = x: isAttrs x && (x.type or null) == "derivation";
        # Arguments crane (or mkDerivation) understands; anything else is taken as a typo.
        known = [
          "src" "strictDeps" "pname" "version" "cargoArtifacts" "cargoExtraArgs" "doCheck" "meta"
          "buildInputs" "nativeBuildInputs" "cargoClippyExtraArgs" "cargoDocExtraArgs"
          "cargoNextestExtraArgs" "partitions" "partitionType" "rustFmtExtraArgs"
          "advisory-db" "cargoAuditExtraArgs"
        ];
        strings = [ "pname" "version" "cargoExtraArgs" "cargoClippyExtraArgs" ];
        craneLib = toolchain:
          let
            # A builder: check the arguments, force what the real one would read (the
            # source and the toolchain), return a trivial unbuilt derivation.
            mk = fn: required: args:
              let
                unknown = filter (n: !(elem n known)) (attrNames args);
                missing = filter (n: !(args ? ${n})) required;
              in
              assert unknown == [ ] || throw "crane stub: ${fn}: unknown argument(s) ${concatStringsSep ", " unknown}";
              assert missing == [ ] || throw "crane stub: ${fn}: missing ${concatStringsSep ", " missing}";
              assert all (n: isString args.${n} || throw "crane stub: ${fn}: ${n} is not a string") (filter (n: args ? ${n}) strings);
              assert (args ? cargoArtifacts) -> isDrv args.cargoArtifacts;
              assert (args ? meta.mainProgram) -> isString args.meta.mainProgram;
              assert isPath args.src || throw "crane stub: ${fn}: src is not a path";
              assert isDrv toolchain || throw "crane stub: ${fn}: no toolchain (call overrideToolchain)";
              pkgs.mkDrv "${args.pname or "crane"}-${fn}" // { meta = args.meta or { }; };
          in
          {
            overrideToolchain = t: craneLib (if isFunction t then t pkgs else t);
            fileset.commonCargoSources = path:
              pkgs.lib.fileset.unions [ (path + "/Cargo.toml") (path + "/Cargo.lock") ];
            buildDepsOnly = mk "deps" [ "src" "pname" "version" ];
            buildPackage = mk "package" [ "src" "pname" "version" ];
            cargoClippy = mk "clippy" [ "src" "pname" "version" "cargoArtifacts" ];
            cargoDoc = mk "doc" [ "src" "pname" "version" "cargoArtifacts" ];
            cargoNextest = mk "nextest" [ "src" "pname" "version" "cargoArtifacts" ];
            cargoFmt = mk "fmt" [ "src" ];
            cargoAudit = mk "audit" [ "src" "advisory-db" ];
            devShell = { checks ? { }, packages ? [ ] }:
              assert all (n: isDrv checks.${n} || throw "crane stub: devShell: check ${n} is not a derivation") (attrNames checks);
              assert all isDrv packages;
              pkgs.mkDrv "devshell";
          };
      in
      craneLib null;
  };
}
