namespace EasyIm.Contracts.Friends;

public sealed record GroupMemberInfo(long Id, string Account, string Nickname, string Avatar, string Role);
