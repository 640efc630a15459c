using System.Runtime.CompilerServices;

namespace LstmKernels.Internal;

/// <summary>The LSTM's pointwise stage on one panel of 16 units, in registers: shared by the pointwise kernels and the fused step.</summary>
internal static class LstmPanel
{
    /// <summary>
    /// From the four gates' pre-activations and c_{t−1}: <c>c = σ(z_f)⊙cPrev + σ(z_i)⊙tanh(z_g)</c>, returned, and
    /// <c>h = σ(z_o)⊙tanh(c)</c>. One order of operations everywhere, so every route gives a unit the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TP Pointwise<TPanel, TP>(TP zi, TP zf, TP zg, TP zo, TP cPrev, out TP h)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        TP c = TPanel.MultiplyAdd(TPanel.Sigmoid(zf), cPrev, TPanel.Multiply(TPanel.Sigmoid(zi), TPanel.Tanh(zg)));
        h = TPanel.Multiply(TPanel.Sigmoid(zo), TPanel.Tanh(c));
        return c;
    }
}
