namespace EasyIm.Auth.Data;

/// <summary>
/// The HMAC key that signs tokens. It lives in the auth database, made on first start, so
/// every replica of the auth service signs and checks with the same key.
/// </summary>
public sealed class SigningKey
{
    public int Id { get; set; }
    public required byte[] Key { get; set; }
}
