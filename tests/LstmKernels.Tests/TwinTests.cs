using System.Reflection;
using LstmKernels.Reference;
using Xunit;

namespace LstmKernels.Tests;

/// <summary>Every public span kernel has its reference twin: same name, same parameter types and names (Reference/ReferenceKernels.*.cs).</summary>
public sealed class TwinTests
{
    [Fact]
    public void EveryKernel_HasAReferenceTwin()
    {
        MethodInfo[] kernels = SpanMethods(typeof(Kernels));

        // The kernels this suite knows about must be among them (a reflection filter that finds nothing would pass trivially).
        string[] names = Array.ConvertAll(kernels, m => m.Name);
        string[] ledger =
        [
            "Sigmoid", "Tanh", "CellUpdate", "HiddenUpdate", "LstmPointwise", "GateProjection", "Linear", "LstmPointwiseTraining", "LstmPointwiseBackward",
            "AccumulateWeightGradient", "AccumulateBiasGradient", "AccumulateInputGradient", "SgdUpdate", "AdamUpdate",
        ];
        foreach (string known in ledger)
        {
            Assert.Contains(known, names);
        }

        foreach (MethodInfo kernel in kernels)
        {
            Type[] types = Array.ConvertAll(kernel.GetParameters(), p => p.ParameterType);
            MethodInfo? twin = typeof(ReferenceKernels).GetMethod(kernel.Name, BindingFlags.Public | BindingFlags.Static, types);
            Assert.True(twin is not null, $"Kernels.{kernel.Name}({string.Join(", ", types.Select(t => t.Name))}) has no twin in ReferenceKernels");
            Assert.Equal(kernel.ReturnType, twin.ReturnType);
            Assert.Equal(
                Array.ConvertAll(kernel.GetParameters(), p => p.Name),
                Array.ConvertAll(twin.GetParameters(), p => p.Name));
        }
    }

    [Fact]
    public void EveryReferenceSpanMethod_IsTheTwinOfAKernel()
    {
        foreach (MethodInfo twin in SpanMethods(typeof(ReferenceKernels)))
        {
            Type[] types = Array.ConvertAll(twin.GetParameters(), p => p.ParameterType);
            Assert.True(
                typeof(Kernels).GetMethod(twin.Name, BindingFlags.Public | BindingFlags.Static, types) is not null,
                $"ReferenceKernels.{twin.Name} has no kernel of the same signature");
        }
    }

    private static MethodInfo[] SpanMethods(Type type) =>
        type.GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Where(m => m.GetParameters().Any(p => IsSpan(p.ParameterType)))
            .ToArray();

    private static bool IsSpan(Type t) =>
        t.IsGenericType && (t.GetGenericTypeDefinition() == typeof(Span<>) || t.GetGenericTypeDefinition() == typeof(ReadOnlySpan<>));
}
