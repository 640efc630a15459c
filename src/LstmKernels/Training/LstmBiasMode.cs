namespace LstmKernels.Training;

/// <summary>How the biases of an LSTM are trained: which bias tensors are parameters.</summary>
/// <remarks>
/// The forward pass is the same in every mode: <c>z = x·W_ihᵀ + h·W_hhᵀ + b</c> with <c>b = bias_ih + bias_hh</c>. The
/// modes differ in what an optimizer sees. PyTorch trains two tensors that receive the same gradient g, so one SGD step
/// moves their sum by 2·lr·g, clipping counts g twice in the norm, and Adam keeps moments for both; the summed mode
/// trains one tensor, so the same step moves it by lr·g. Use <see cref="Separate"/> to follow a PyTorch script step for
/// step.
/// </remarks>
public enum LstmBiasMode
{
    /// <summary>
    /// PyTorch's parameterisation (<c>nn.LSTM</c>'s default): <c>bias_ih</c> and <c>bias_hh</c> are two parameters,
    /// each with the gradient <c>∂L/∂b</c>.
    /// </summary>
    Separate,

    /// <summary>
    /// One bias per layer and direction, the sum <c>bias_ih + bias_hh</c> (<see cref="LstmParameters.Bias"/>), trained as
    /// one parameter (what <see cref="LstmBptt"/> and <see cref="TruncatedBptt"/> train); its tensor is named and exported
    /// as <c>bias_ih</c>, with <c>bias_hh</c> zero.
    /// </summary>
    Summed,

    /// <summary>
    /// No bias (PyTorch's <c>nn.LSTM(…, bias=False)</c>): no bias tensors; the bias is zero and never trained. The same
    /// model as <see cref="LstmOptions.Bias"/> false and, for one layer, <see cref="LstmBptt"/>'s and
    /// <see cref="TruncatedBptt"/>'s <c>bias: false</c>; the three must agree (<see cref="LstmTrainer"/>,
    /// <see cref="LstmStackParameters.ToLstm"/> and <see cref="LstmStackParameters.FromLstm"/> refuse options or a model
    /// whose <see cref="LstmOptions.Bias"/> says otherwise).
    /// </summary>
    None,
}
