using EasyIm.Auth.Security;

namespace EasyIm.UnitTests.Auth;

public class PasswordHashingTests
{
    private readonly PasswordHashing _hashing = new();

    [Fact]
    public void A_hash_verifies_its_password_and_no_other()
    {
        var hash = _hashing.Hash("correct horse");

        Assert.True(_hashing.Verify(hash, "correct horse"));
        Assert.False(_hashing.Verify(hash, "correct horsE"));
        Assert.False(_hashing.Verify(hash, ""));
    }

    [Fact]
    public void The_same_password_hashes_differently_each_time_because_of_the_salt()
    {
        var first = _hashing.Hash("same password");
        var second = _hashing.Hash("same password");

        Assert.NotEqual(first, second);
        Assert.True(_hashing.Verify(first, "same password"));
        Assert.True(_hashing.Verify(second, "same password"));
    }

    [Fact]
    public void The_hash_does_not_contain_the_password()
    {
        var hash = _hashing.Hash("plaintext-secret");

        Assert.DoesNotContain("plaintext-secret", hash);
        // Identity's v3 format: base64 of a marker byte, PRF, iteration count, salt and subkey.
        Assert.Equal(0x01, Convert.FromBase64String(hash)[0]);
    }

    [Fact]
    public void A_malformed_stored_hash_fails_verification_instead_of_throwing()
    {
        Assert.False(_hashing.Verify(Convert.ToBase64String(new byte[] { 0x01, 0x02 }), "whatever"));
    }
}
