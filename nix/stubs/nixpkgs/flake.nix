{
  description = "Offline stub of nixpkgs: `import nixpkgs { system; overlays; }` (default.nix) and lib";
  outputs = { self }: { lib = import ./lib.nix; };
}
