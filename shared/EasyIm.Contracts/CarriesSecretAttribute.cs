namespace EasyIm.Contracts;

/// <summary>
/// A bus message that carries a password or a token. Every process sends it non-durable, with a time to live of
/// the request timeout, and a failure to handle it is answered <see cref="RequestRejected"/> 503 instead of a fault:
/// a fault would carry the message to the caller and leave it in an <c>_error</c> queue (EasyIm.Hosting's <c>BusSecrets</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class CarriesSecretAttribute : Attribute;
