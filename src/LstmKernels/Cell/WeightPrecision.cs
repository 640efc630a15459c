using System.Diagnostics.CodeAnalysis;

namespace LstmKernels;

/// <summary>How a <see cref="LstmCell"/> stores its packed weights. Arithmetic is always float32.</summary>
/// <remarks>
/// A batch-1 step reads every weight once, so its speed is bound by the bytes it streams: 16-bit weights halve
/// them, 8-bit weights quarter them. The cost is the weights' rounding, stated per member and in docs/kernels.md.
/// <see cref="LstmCell.GetEffectiveParameters"/> returns the rounded weights, so a reference built from them checks
/// the reduced-precision cell to float32 bounds.
/// </remarks>
[SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Float32, BFloat16 and Int8 are the standard names of these number formats.")]
public enum WeightPrecision
{
    /// <summary>float32 weights, as given: 4 bytes each.</summary>
    Float32 = 0,

    /// <summary>
    /// bfloat16 weights (the top 16 bits of a float32, rounded to nearest even): 2 bytes each; relative error of
    /// each weight at most 2⁻⁸ (8 significant bits). Biases stay float32.
    /// </summary>
    BFloat16 = 1,

    /// <summary>
    /// int8 weights with one float32 scale per gate unit (a row of W_ih and W_hh together): w ≈ s·q with
    /// q = round(w / s) in [−127, 127], s = max|row| / 127; 1 byte each; error of each weight at most s/2. Biases
    /// stay float32.
    /// </summary>
    Int8 = 2,
}
