namespace EasyIm.Contracts.Friends;

public sealed record UserInfo(long Id, string Account, string Nickname, string Avatar);
