using Sluice.Engine.Serving;

namespace Sluice.Server.Generation;

/// <summary>One engine event placed in the response: choice index = prompt × n + sequence.</summary>
public readonly record struct ChoiceEvent(int Choice, int Prompt, TokenEvent Event);
