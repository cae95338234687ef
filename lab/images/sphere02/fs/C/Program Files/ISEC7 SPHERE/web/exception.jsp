<%@ page isErrorPage="true" contentType="text/html; charset=UTF-8" %>
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>ISEC7 SPHERE</title></head>
<body>
<h1>Something went wrong</h1>
<p>The request could not be completed. Please contact your administrator.</p>
</body>
</html>
