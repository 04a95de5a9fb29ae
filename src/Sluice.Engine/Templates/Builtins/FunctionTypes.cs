using Sluice.Engine.Templates.Runtime;

namespace Sluice.Engine.Templates.Builtins;

/// <summary>A filter: <c>input | name(arguments)</c>.</summary>
internal delegate Value FilterFunction(RenderState state, Value input, Arguments arguments);

/// <summary>A test: <c>input is name(arguments)</c>.</summary>
internal delegate bool TestFunction(RenderState state, Value input, Arguments arguments);
