namespace LstmKernels.Internal;

/// <summary>Shape texts of length errors shared by a model type and its twin; constants, so that a valid call builds no string.</summary>
internal static class ShapeText
{
    /// <summary>A cell's state rows.</summary>
    public const string RowState = "[B, H] with B = x.Length / InputSize";
}
