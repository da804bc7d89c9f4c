using EasyIm.Contracts.Auth;

namespace EasyIm.UnitTests.Auth;

public class AccountRulesTests
{
    [Theory]
    [InlineData("abc")]
    [InlineData("user_1.name@mail-x")]
    public void Good_registrations_pass(string account)
    {
        Assert.Null(AccountRules.CheckRegistration(account, "secret1", "Nick 小明"));
        Assert.Null(AccountRules.CheckRegistration(account, "secret1", null));
    }

    [Theory]
    [InlineData(null, "secret1", null, "account")]
    [InlineData("ab", "secret1", null, "account")]
    [InlineData("has space", "secret1", null, "account")]
    [InlineData("名字abc", "secret1", null, "account")]
    [InlineData("abc", null, null, "password")]
    [InlineData("abc", "12345", null, "password")]
    [InlineData("abc", "secret1", "123456789012345678901234567890123", "nickname")]
    [InlineData("abc", "secret1", "tab\there", "nickname")]
    public void Each_broken_rule_names_its_field(string? account, string? password, string? nickname, string field)
    {
        var broken = AccountRules.CheckRegistration(account, password, nickname);

        Assert.NotNull(broken);
        Assert.Equal(field, broken.Value.Field);
        Assert.Contains(field, broken.Value.Message);
    }

    [Fact]
    public void Account_keys_ignore_case()
    {
        Assert.Equal(AccountRules.Key("Alice"), AccountRules.Key("aLICE"));
    }
}
