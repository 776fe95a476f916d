# The few lib functions flake.nix uses. A fileset is { _paths = [ ... ]; }.
let
  toFileset = x:
    if x ? _paths then x
    else if builtins.isPath x then
      (if builtins.pathExists x then { _paths = [ x ]; }
      else throw "lib.fileset: ${toString x} does not exist (untracked?)")
    else throw "lib.fileset: expected a path or a fileset, got ${builtins.typeOf x}";
in
{
  fileset = {
    unions = xs: { _paths = builtins.concatMap (x: (toFileset x)._paths) xs; };
    toSource = { root, fileset }:
      assert builtins.isPath root;
      assert builtins.all
        (p: builtins.substring 0 (builtins.stringLength (toString root)) (toString p) == toString root
          || throw "lib.fileset.toSource: ${toString p} is outside ${toString root}")
        (toFileset fileset)._paths;
      root;
  };
}
