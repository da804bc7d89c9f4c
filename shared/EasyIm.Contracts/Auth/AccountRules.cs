using System.Buffers;

namespace EasyIm.Contracts.Auth;

/// <summary>
/// The input rules for users, shared by the gateway (to answer early and name the field) and
/// the auth service (which never trusts its callers).
/// </summary>
public static class AccountRules
{
    public const int AccountMinLength = 3;
    public const int AccountMaxLength = 64;
    public const int PasswordMinLength = 6;
    public const int PasswordMaxLength = 128;
    public const int NicknameMaxLength = 32;

    private static readonly SearchValues<char> AccountChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-");

    /// <summary>The first broken rule as (field, message), or null when the input is acceptable.</summary>
    public static (string Field, string Message)? CheckRegistration(string? account, string? password, string? nickname) =>
        CheckAccount(account) ?? CheckPassword(password) ?? CheckNickname(nickname);

    public static (string Field, string Message)? CheckAccount(string? account)
    {
        if (string.IsNullOrEmpty(account))
            return ("account", "account is required");
        if (account.Length is < AccountMinLength or > AccountMaxLength)
            return ("account", $"account must be {AccountMinLength}-{AccountMaxLength} characters");
        if (account.AsSpan().ContainsAnyExcept(AccountChars))
            return ("account", "account may contain only letters, digits and _.@-");
        return null;
    }

    public static (string Field, string Message)? CheckPassword(string? password)
    {
        if (string.IsNullOrEmpty(password))
            return ("password", "password is required");
        if (password.Length is < PasswordMinLength or > PasswordMaxLength)
            return ("password", $"password must be {PasswordMinLength}-{PasswordMaxLength} characters");
        return TextRules.Check(password, "password");
    }

    public static (string Field, string Message)? CheckNickname(string? nickname)
    {
        if (nickname is null)
            return null;
        if (nickname.Length > NicknameMaxLength)
            return ("nickname", $"nickname must be at most {NicknameMaxLength} characters");
        if (nickname.Any(char.IsControl))
            return ("nickname", "nickname must not contain control characters");
        return TextRules.Check(nickname, "nickname");
    }

    /// <summary>Accounts are unique without regard to case: "Alice" and "alice" are one account.</summary>
    public static string Key(string account) => account.ToLowerInvariant();
}
