{
  description = "Offline stub of numtide/flake-utils";
  outputs = { self }: {
    lib = rec {
      defaultSystems = [ "aarch64-linux" "aarch64-darwin" "x86_64-darwin" "x86_64-linux" ];
      # { checks = ...; } per system  ->  { checks.<system> = ...; }
      eachSystem = systems: f: builtins.foldl'
        (acc: system: acc // builtins.mapAttrs
          (name: value: (acc.${name} or { }) // { ${system} = value; })
          (f system))
        { }
        systems;
      eachDefaultSystem = eachSystem defaultSystems;
    };
  };
}
